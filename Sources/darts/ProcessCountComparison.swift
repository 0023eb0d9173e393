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
    let (executable, arguments) = AlternatedRounds.ownCommand(removing: ["--ranks", "--rounds", "--threads"], flags: ["--json"])
    var launch = ["--oversubscribe", "--bind-to", "none", "-np", "\(ranks)", executable] + arguments + ["--threads", "\(threads / ranks)", "--json"]
    if getuid() == 0 { launch.insert("--allow-run-as-root", at: 0) }
    let results = try AlternatedRounds(commands: [
      .init(executable: executable, arguments: arguments + ["--threads", "\(threads)", "--json"]),
      .init(executable: try Self.mpirun(), arguments: launch),
    ], rounds: rounds).run()
    let byWhat = results.map { rounds in Dictionary(grouping: rounds.flatMap { $0 }.filter { $0["median_ms"] != nil }) { $0["what"] as? String ?? "" } }
    for what in byWhat[0].keys.sorted() {
      guard let single = byWhat[0][what], let job = byWhat[1][what] else { continue }
      let median = AlternatedRounds.median
      let (oneMs, jobMs) = (try median(single, "median_ms", "darts"), try median(job, "median_ms", "mpirun darts"))
      let (bytes, collective) = (try median(job, "reduced_bytes_per_step", "mpirun darts"), try median(job, "collective_ms_per_step", "mpirun darts"))
      if json {
        emit("{\"what\":\"\(what)\",\"rounds\":\(rounds),\"one_process_threads\":\(threads),\"one_process_median_ms\":\(oneMs),\"processes\":\(ranks),\"threads_per_process\":\(threads / ranks),\"job_median_ms\":\(jobMs),\"reduced_bytes_per_step\":\(bytes),\"collective_ms_per_step\":\(collective),\"throughput_ratio\":\(oneMs / jobMs)}")
      } else {
        emit(String(format: "%@: 1 process x %d threads %.1f ms/step; %d processes x %d threads %.1f ms/step (%.2f MB all-reduced and %.1f ms in collectives per step): %.2fx the throughput (medians of %d alternated rounds)",
                    what as NSString, threads, oneMs, ranks, threads / ranks, jobMs, bytes / 1e6, collective, oneMs / jobMs, rounds))
      }
    }
  }

  /// Open MPI's launcher on `PATH`.
  static func mpirun() throws -> String {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
      let path = "\(directory)/mpirun"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw ValidationError("--ranks starts the processes with Open MPI's mpirun, which is not on PATH (Debian: apt-get install openmpi-bin)")
  }
}
