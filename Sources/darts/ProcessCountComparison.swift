import ArgumentParser
import Foundation

/// `darts bench search --ranks N`: the same benchmark on N processes of T/N threads (started
/// with Open MPI's `mpirun`) and on one process of T threads, alternating `rounds` times so
/// that the machine's drift reaches both alike; prints each configuration's median step time
/// and throughput, the job's bytes all-reduced and time in collectives per step, and the ratio
/// of the medians.
struct ProcessCountComparison {
  var ranks: Int
  var threads: Int
  var rounds: Int
  var json: Bool

  /// A medians-and-ratio report over the runs of this command's own arguments.
  func run() throws {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    let arguments = Self.withoutComparisonOptions(Array(CommandLine.arguments.dropFirst()))
    let launcher = try Self.mpirun()
    var single: [String: [[String: Any]]] = [:]
    var job: [String: [[String: Any]]] = [:]
    for round in 0..<rounds {
      for (what, line) in try Self.measure(executable, arguments + ["--threads", "\(threads)", "--json"]) { single[what, default: []].append(line) }
      var launch = ["--oversubscribe", "--bind-to", "none", "-np", "\(ranks)", executable] + arguments + ["--threads", "\(threads / ranks)", "--json"]
      if getuid() == 0 { launch.insert("--allow-run-as-root", at: 0) }
      for (what, line) in try Self.measure(launcher, launch) { job[what, default: []].append(line) }
      FileHandle.standardError.write(Data("# round \(round + 1)/\(rounds) done\n".utf8))
    }
    for what in single.keys.sorted() {
      guard let jobLines = job[what] else { continue }
      let median = { (lines: [[String: Any]], key: String) -> Double in
        let values = lines.compactMap { $0[key] as? Double }.sorted()
        return values[values.count / 2]
      }
      let (oneMs, jobMs) = (median(single[what]!, "median_ms"), median(jobLines, "median_ms"))
      let (bytes, collective) = (median(jobLines, "reduced_bytes_per_step"), median(jobLines, "collective_ms_per_step"))
      if json {
        emit("{\"what\":\"\(what)\",\"rounds\":\(rounds),\"one_process_threads\":\(threads),\"one_process_median_ms\":\(oneMs),\"processes\":\(ranks),\"threads_per_process\":\(threads / ranks),\"job_median_ms\":\(jobMs),\"reduced_bytes_per_step\":\(bytes),\"collective_ms_per_step\":\(collective),\"throughput_ratio\":\(oneMs / jobMs)}")
      } else {
        emit(String(format: "%@: 1 process x %d threads %.1f ms/step; %d processes x %d threads %.1f ms/step (%.2f MB all-reduced and %.1f ms in collectives per step): %.2fx the throughput (medians of %d alternated rounds)",
                    what as NSString, threads, oneMs, ranks, threads / ranks, jobMs, bytes / 1e6, collective, oneMs / jobMs, rounds))
      }
    }
  }

  /// The arguments with `--ranks`, `--rounds`, `--threads` and `--json` taken out.
  static func withoutComparisonOptions(_ arguments: [String]) -> [String] {
    var kept: [String] = []
    var index = 0
    while index < arguments.count {
      let argument = arguments[index]
      if ["--ranks", "--rounds", "--threads"].contains(argument) {
        index += 2
        continue
      }
      if argument != "--json" && !["--ranks=", "--rounds=", "--threads="].contains(where: argument.hasPrefix) { kept.append(argument) }
      index += 1
    }
    return kept
  }

  /// Open MPI's launcher on `PATH`.
  static func mpirun() throws -> String {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
      let path = "\(directory)/mpirun"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw ValidationError("--ranks starts the processes with Open MPI's mpirun, which is not on PATH (Debian: apt-get install openmpi-bin)")
  }

  /// Runs `executable arguments…` and returns its JSON result lines by `what`.
  static func measure(_ executable: String, _ arguments: [String]) throws -> [(String, [String: Any])] {
    let (status, data) = try standardOutput(of: executable, arguments)
    guard status == 0 else {
      throw ValidationError("\(executable) \(arguments.joined(separator: " ")) failed (exit \(status))")
    }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let what = object["what"] as? String,
        object["median_ms"] != nil else { return nil }
      return (what, object)
    }
  }
}
