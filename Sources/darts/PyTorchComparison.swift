import Foundation

/// `darts bench search|train --pytorch PYTHON --rounds N`: this benchmark and the PyTorch
/// reference step, each in its own process, alternated `rounds` times (``AlternatedRounds``).
/// Reports per step: the median over the rounds of this engine's median step and of PyTorch's
/// best step (beat its best, not its worst), the ratio of those medians, and the ratio of the
/// median peak memories.
struct PyTorchComparison {
  var pytorch: (python: String, script: URL)
  /// The steps compared: how this engine names each, and the reference script's arguments.
  var cases: [(what: String, reference: [String])]
  var rounds: Int

  func run(_ report: BenchReport) throws {
    let (executable, arguments) = AlternatedRounds.ownCommand(removing: ["--pytorch", "--reference-script", "--rounds"], flags: ["--json"])
    let results = try AlternatedRounds(commands: [.init(executable: executable, arguments: arguments + ["--json"])] + cases.map {
      .init(executable: pytorch.python, arguments: report.referenceArguments(pytorch.script, $0.reference), environment: BenchReport.referenceEnvironment)
    }, rounds: rounds).run()
    let ours = Dictionary(grouping: results[0].flatMap { $0 }.filter { $0["median_ms"] != nil }) { $0["what"] as? String ?? "" }
    for (index, item) in cases.enumerated() {
      guard let mine = ours[item.what] else { continue }
      let theirs = results[index + 1].flatMap { $0 }.filter { $0["min_ms"] != nil }
      let median = AlternatedRounds.median
      let script = pytorch.script.path
      let (ms, theirMs) = (try median(mine, "median_ms", "darts"), try median(theirs, "min_ms", script))
      let (peak, theirPeak) = (try median(mine, "peak_bytes", "darts"), try median(theirs, "peak_rss_bytes", script))
      if report.json {
        report.say("{\"what\":\"\(item.what)\",\"rounds\":\(rounds),\"batch\":\(report.batch),\"threads\":\(report.threads),\"swift_median_ms\":\(ms),\"pytorch_best_ms\":\(theirMs),\"speedup\":\(theirMs / ms),\"swift_peak_bytes\":\(peak),\"pytorch_peak_bytes\":\(theirPeak),\"memory_ratio\":\(peak / theirPeak)}")
      } else {
        report.say(String(format: "%@  batch %d  threads %d: swift %.1f ms/step (median of %d rounds' medians), pytorch %.1f ms/step (median of the rounds' best steps): speed-up %.2fx (ratio of medians); peak memory %.2f / %.2f GiB = %.2f",
                          item.what as NSString, report.batch, report.threads, ms, rounds, theirMs, theirMs / ms, peak / 1_073_741_824, theirPeak / 1_073_741_824, peak / theirPeak))
      }
    }
  }
}
