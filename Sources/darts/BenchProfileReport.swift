import Benchmarks
import Foundation

extension BenchReport {
  /// The profile of `what`'s step (`--profile`): a header with the profiled and the
  /// `unprofiled` step time (the profiler's overhead), then per family its subtotal and its
  /// classes' calls, time, share of the step, GFLOP and GB per step and rate (GFLOP/s for the
  /// compute-bound families, GB/s for the memory-bound ones), the rest, and the step's totals.
  /// With `json`, one object per class, then the rest and the step.
  func reportProfile(what: String, _ profile: StepProfile, unprofiledMilliseconds: Double) {
    let overhead = 100 * (profile.stepMilliseconds / unprofiledMilliseconds - 1)
    if json {
      for (family, _, classes) in profile.families {
        for row in classes { say(jsonLine(what, row, extra: ",\"family\":\"\(family.rawValue)\"")) }
      }
      say(jsonLine(what, profile.rest, extra: ""))
      say(jsonLine(what, profile.step, extra: ",\"steps\":\(profile.steps),\"unprofiled_ms\":\(unprofiledMilliseconds)"))
      return
    }
    say(String(
      format: "profile  %@  batch %d  threads %d  %d step%@: %.1f ms/step profiled, %.1f unprofiled (%+.1f %%)",
      what as NSString, batch, threads, profile.steps, (profile.steps == 1 ? "" : "s") as NSString, profile.stepMilliseconds,
      unprofiledMilliseconds, overhead))
    say("class".padding(toLength: 36, withPad: " ", startingAt: 0) + " calls/step    ms/step   share      GFLOP         GB           rate")
    for (family, total, classes) in profile.families {
      say(textLine(total, indent: ""))
      // A family of one class (matrix multiply, allocation) says it all on its own line.
      if family.classes.count > 1 {
        for row in classes { say(textLine(row, indent: "  ")) }
      }
    }
    say(textLine(profile.rest, indent: ""))
    say(textLine(profile.step, indent: ""))
  }

  private func textLine(_ row: StepProfile.Row, indent: String) -> String {
    let calls = row.calls > 0 ? String(format: "%11.0f", row.calls) : String(repeating: " ", count: 10) + "-"
    let rate = row.rate.map { String(format: "%8.1f %@", $0, (row.isCompute == true ? "GFLOP/s" : "GB/s") as NSString) } ?? ""
    return (indent + row.label).padding(toLength: 36, withPad: " ", startingAt: 0) + calls
      + String(format: " %10.1f %6.1f%% %10.3f %10.3f", row.milliseconds, 100 * row.share, row.flops / 1e9, row.bytes / 1e9)
      + (rate.isEmpty ? "" : " " + rate)
  }

  private func jsonLine(_ what: String, _ row: StepProfile.Row, extra: String) -> String {
    let rate = row.rate.map { ",\"\(row.isCompute == true ? "gflops" : "gbps")\":\($0)" } ?? ""
    return "{\"profile\":\"\(what)\",\"class\":\"\(row.label)\",\"calls\":\(row.calls),\"ms\":\(row.milliseconds),\"share\":\(row.share),\"gflop\":\(row.flops / 1e9),\"gb\":\(row.bytes / 1e9)\(rate)\(extra)}"
  }
}
