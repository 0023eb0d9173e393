import Foundation
import XCTest
import _TestSupport

/// Data-parallel runs under Open MPI's `mpirun` (installed by `.ci/run`: Debian's
/// `openmpi-bin`): two processes with a global batch B compute what one process computes with
/// `--micro-batches 2`, only the leader writes, a resumed job continues exactly (with the same
/// or another process count), and failures end the job with one clear line.
final class DistributedCLITests: XCTestCase {
  /// A demo search of 64 + 64 images, C = 4, 3 cells, 2 epochs of 2 steps (α trained in the
  /// second), one thread per process.
  let tinySearch = [
    "search", "--limit", "128", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "2", "--arch-warmup-epochs", "1", "--threads", "1",
  ]

  func testDARTSFirstOrderOnTwoProcessesEqualsTwoMicroBatches() throws {
    try assertTwoProcessesEqualMicroBatches(tinySearch)
  }

  func testDARTSSecondOrderOnTwoProcessesEqualsTwoMicroBatches() throws {
    try assertTwoProcessesEqualMicroBatches(tinySearch + ["--order", "2"])
  }

  func testPCDARTSOnTwoProcessesEqualsTwoMicroBatches() throws {
    try assertTwoProcessesEqualMicroBatches(tinySearch.map { $0 == "4" ? "8" : $0 } + ["--method", "pc-darts"])
  }

  /// Three stages (3, 4, 5 cells), skip dropout drawn per micro-batch, operations dropped
  /// between stages from the (identical) α of every process.
  func testPDARTSOnTwoProcessesEqualsTwoMicroBatches() throws {
    try assertTwoProcessesEqualMicroBatches(tinySearch + ["--method", "p-darts", "--add-layers", "1", "2"], steps: 12)
  }

  /// DARTS_V2 with the auxiliary head and drop path (0.1 in the second epoch), whose masks each
  /// micro-batch draws from its own generator.
  func testTrainingOnTwoProcessesEqualsTwoMicroBatches() throws {
    try assertTwoProcessesEqualMicroBatches([
      "train", "--limit", "64", "--test-limit", "32", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
      "--epochs", "2", "--max-steps-per-epoch", "2", "--auxiliary-weight", "0.4", "--drop-path", "0.2", "--threads", "1",
    ])
  }

  func testResumedJobContinuesExactlyOnTwoProcessesAndOnOne() throws {
    let root = try temporaryDirectory()
    let reference = root.appendingPathComponent("reference")
    XCTAssertEqual(try runMPI(2, tinySearch + ["--run-dir", reference.path]).status, 0)
    for processes in [2, 1] {
      let interrupted = root.appendingPathComponent("interrupted-\(processes)")
      try runMPIKilledAtFirstCheckpoint(tinySearch + ["--run-dir", interrupted.path], run: interrupted)
      let resumed = try runMPI(processes, ["search", "--resume", interrupted.path])
      XCTAssertEqual(resumed.status, 0, resumed.err)
      try assertCheckpointsAgree(reference, interrupted, relativeTolerance: 0, "resumed on \(processes) process(es)")
      XCTAssertEqual(try stepLosses(interrupted), try stepLosses(reference))
    }
    // Two micro-batches cannot be shared by three processes.
    let three = try runMPI(3, ["search", "--resume", root.appendingPathComponent("interrupted-2").path])
    XCTAssertNotEqual(three.status, 0)
    XCTAssertTrue(three.err.contains("3 processes cannot share"), three.err)
  }

  func testBadSharesAreOneLineFromTheLeader() throws {
    let run = try temporaryDirectory().appendingPathComponent("run")
    for (arguments, message) in [
      (["--batch-size", "15"], "--batch-size 15 does not divide across 2 processes"),
      (["--micro-batches", "3"], "--batch-size 16 does not split into 3 equal micro-batches"),
    ] {
      let result = try runMPI(2, tinySearch + arguments + ["--run-dir", run.path])
      XCTAssertNotEqual(result.status, 0)
      // mpirun forwards the processes' stderr in chunks and may splice its own dashed notice
      // into the middle of their line; without its notices the line reads whole.
      let err = result.err.replacingOccurrences(
        of: "-{40,}\n(?:.*\n)*?-{40,}\n", with: "", options: .regularExpression)
      XCTAssertEqual(err.components(separatedBy: message).count - 1, 1, "one line: \(result.err)")
      XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "nothing written")
    }
  }

  /// A process killed in the middle of a job: `mpirun` ends the others and exits non-zero
  /// with a line naming the dead process, instead of leaving the survivor waiting.
  func testAProcessThatDiesEndsTheJob() throws {
    let run = try temporaryDirectory().appendingPathComponent("run")
    let process = try mpiProcess(2, tinySearch + ["--epochs", "20", "--run-dir", run.path])
    let err = Pipe()
    process.standardError = err
    try process.run()
    let start = Date()
    while process.isRunning && !FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoint.safetensors").path) {
      XCTAssertLessThan(Date().timeIntervalSince(start), 300, "no checkpoint")
      usleep(10_000)
    }
    let follower = try XCTUnwrap(processes(withArgument: run.path, rank: 1).first, "rank 1 not found")
    kill(follower, SIGKILL)
    let killed = Date()
    while process.isRunning && Date().timeIntervalSince(killed) < 120 { usleep(10_000) }
    let hung = process.isRunning
    if hung { for pid in processes(withArgument: run.path, rank: nil) { kill(pid, SIGKILL) } }
    process.waitUntilExit()
    XCTAssertFalse(hung, "the job did not end within 120 s of a process dying")
    XCTAssertNotEqual(process.terminationStatus, 0)
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertTrue(message.contains("signal 9") || message.contains("Killed"), message)
    XCTAssertTrue(processes(withArgument: run.path, rank: nil).isEmpty, "no process left behind")
  }

  /// Replicas that stop being identical are caught at the next checkpoint: here rank 1 runs
  /// the reference backend, whose optimiser works in double precision, so its weights drift from
  /// the leader's in the last bits after the first update.
  func testDivergedReplicasStopTheJobNamingThePosition() throws {
    let run = try temporaryDirectory().appendingPathComponent("run")
    let arguments = tinySearch + ["--run-dir", run.path]
    let result = try runMPI(jobs: [(1, arguments + ["--backend", "cpu"]), (1, arguments + ["--backend", "reference"])])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.err.contains("before epoch 1 step 0") && result.err.contains("diverged"), result.err)
    XCTAssertEqual(result.err.components(separatedBy: "diverged").count - 1, 1, "one line: \(result.err)")
    XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoint.safetensors").path))
  }

  // MARK: Helpers

  /// Runs `arguments` on two processes and in one process with `--micro-batches 2`; their
  /// checkpoints (weights, BN statistics, α/β, optimiser moments) and step losses agree within
  /// 1e-5 relative, and only the leader printed.
  func assertTwoProcessesEqualMicroBatches(_ arguments: [String], steps: Int = 4, file: StaticString = #filePath, line: UInt = #line) throws {
    let root = try temporaryDirectory()
    let (distributed, accumulated) = (root.appendingPathComponent("np2"), root.appendingPathComponent("mb2"))
    let job = try runMPI(2, arguments + ["--run-dir", distributed.path])
    XCTAssertEqual(job.status, 0, job.err, file: file, line: line)
    XCTAssertEqual(job.out.components(separatedBy: "run directory:").count - 1, 1, "only the leader prints", file: file, line: line)
    XCTAssertTrue(job.out.contains("data parallel: 2 processes"), job.out, file: file, line: line)
    let single = try runDarts(arguments + ["--micro-batches", "2", "--run-dir", accumulated.path])
    XCTAssertEqual(single.status, 0, single.err, file: file, line: line)
    try assertCheckpointsAgree(distributed, accumulated, relativeTolerance: 1e-5, "2 processes against 2 micro-batches", file: file, line: line)
    let (a, b) = (try stepLosses(distributed), try stepLosses(accumulated))
    XCTAssertEqual(a.count, steps, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * abs(y), file: file, line: line) }
  }

  func assertCheckpointsAgree(_ a: URL, _ b: URL, relativeTolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let (x, y) = (try checkpointTensors(a), try checkpointTensors(b))
    XCTAssertEqual(x.keys.sorted(), y.keys.sorted(), what, file: file, line: line)
    XCTAssertTrue(x.keys.contains { $0.hasPrefix("optimizer.") && $0.contains("momentum_buffer.") }, "optimiser state compared", file: file, line: line)
    var worst: Float = 0
    for (name, values) in x {
      guard let other = y[name], other.count == values.count else { XCTFail("\(what): \(name)", file: file, line: line); continue }
      for (u, v) in zip(values, other) where u != v { worst = max(worst, abs(u - v) / max(abs(u), abs(v))) }
    }
    XCTAssertLessThanOrEqual(worst, relativeTolerance, "\(what): largest relative difference", file: file, line: line)
  }

  /// Every F32 tensor of a run's checkpoint.
  func checkpointTensors(_ run: URL) throws -> [String: [Float]] {
    let parts = try SafetensorsFileParts(contentsOf: run.appendingPathComponent("checkpoint.safetensors"))
    var tensors: [String: [Float]] = [:]
    for (name, entry) in parts.header {
      guard let entry = entry as? [String: Any], entry["dtype"] as? String == "F32", let offsets = entry["data_offsets"] as? [Int] else { continue }
      tensors[name] = parts.data.subdata(in: offsets[0]..<offsets[1]).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    return tensors
  }

  func stepLosses(_ run: URL) throws -> [Double] {
    try String(contentsOf: run.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n").compactMap {
      let event = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
      return event?["type"] as? String == "step" ? event?["loss"] as? Double : nil
    }
  }
}

// MARK: mpirun

/// Open MPI's launcher, which `.ci/run` installs (Debian's openmpi-bin).
var mpirunExecutable: URL {
  get throws {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
      let url = URL(fileURLWithPath: String(directory)).appendingPathComponent("mpirun")
      if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    struct MissingLauncher: Error, CustomStringConvertible { let description: String }
    throw MissingLauncher(description: "mpirun was not found on PATH: install Open MPI (apt-get install openmpi-bin), as .ci/run does")
  }
}

extension XCTestCase {
  /// `mpirun` starting each `(count, arguments)` as `count` processes of `darts arguments…`
  /// (one job), as root too, on however many cores there are.
  func mpiProcess(jobs: [(Int, [String])]) throws -> Process {
    let process = Process()
    process.executableURL = try mpirunExecutable
    let darts = try dartsExecutable.path
    var arguments = ["--oversubscribe", "--bind-to", "none", "--mca", "btl_vader_single_copy_mechanism", "none"]
    for (index, (count, job)) in jobs.enumerated() {
      if index > 0 { arguments.append(":") }
      arguments += ["-np", "\(count)", darts] + job
    }
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    return process
  }

  func mpiProcess(_ count: Int, _ arguments: [String]) throws -> Process { try mpiProcess(jobs: [(count, arguments)]) }

  /// Runs a job to its end: exit status, stdout and stderr.
  func runMPI(jobs: [(Int, [String])]) throws -> (status: Int32, out: String, err: String) {
    try runToEnd(try mpiProcess(jobs: jobs))
  }

  func runMPI(_ count: Int, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    try runMPI(jobs: [(count, arguments)])
  }

  /// Starts a two-process job writing `run` and kills every one of its processes with SIGKILL
  /// as soon as its first checkpoint exists (a machine lost mid-run).
  func runMPIKilledAtFirstCheckpoint(_ arguments: [String], run: URL) throws {
    let process = try mpiProcess(2, arguments)
    try process.run()
    let checkpoint = run.appendingPathComponent("checkpoint.safetensors")
    while process.isRunning && !FileManager.default.fileExists(atPath: checkpoint.path) { usleep(2_000) }
    for pid in processes(withArgument: run.path, rank: nil) { kill(pid, SIGKILL) }
    process.waitUntilExit()
  }

  /// The `darts` processes (rank `rank`, or any) whose arguments include `argument`, found in
  /// `/proc`.
  func processes(withArgument argument: String, rank: Int?) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> pid_t? in
      guard let pid = pid_t(entry),
        let commandLine = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
        commandLine.split(separator: 0).map({ String(decoding: $0, as: UTF8.self) }).contains(argument),
        commandLine.split(separator: 0).first.map({ String(decoding: $0, as: UTF8.self).hasSuffix("darts") }) == true
      else { return nil }
      guard let rank else { return pid }
      let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ") ?? Data()
      return environment.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" } ? pid : nil
    }
  }
}
