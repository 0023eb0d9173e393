import Foundation
import XCTest

/// Runs the built `darts` binary as a user would and checks what it prints.
/// The `darts` executable beside the test bundle in the build products directory.
var dartsExecutable: URL {
  get throws {
    var candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    for dir in candidates {
      let url = dir.appendingPathComponent("darts")
      if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    struct MissingBinary: Error, CustomStringConvertible { let description: String }
    throw MissingBinary(description: "the darts binary was not found near \(Bundle.main.bundleURL.path): build it with swift build -c release")
  }
}

/// Runs `darts arguments…`, returning exit status, stdout and stderr.
func runDarts(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
  let process = Process()
  process.executableURL = try dartsExecutable
  process.arguments = arguments
  return try runToEnd(process)
}

/// Runs `process` to its end, returning exit status, stdout and stderr.
func runToEnd(_ process: Process) throws -> (status: Int32, out: String, err: String) {
  let (out, err) = (Pipe(), Pipe())
  process.standardOutput = out
  process.standardError = err
  try process.run()
  // Drain stderr concurrently so a chatty child never blocks on a full pipe.
  nonisolated(unsafe) var errData = Data()
  let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
  reader.start()
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  while reader.isExecuting || !reader.isFinished { usleep(1000) }
  return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Runs the built `darts` binary as a user would and checks what it prints.
final class DartsCLITests: XCTestCase {
  func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) { try runDarts(arguments) }

  func testVersionAndHelp() throws {
    let version = try run(["--version"])
    XCTAssertEqual(version.status, 0)
    XCTAssertEqual(version.out.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0")
    let help = try run(["--help"])
    XCTAssertEqual(help.status, 0)
    XCTAssert(help.out.contains("USAGE: darts <subcommand>"), help.out)
    XCTAssert(help.out.contains("bench"), help.out)
    let benchHelp = try run(["bench", "kernels", "--help"])
    XCTAssert(benchHelp.out.contains("--threads <threads>"), benchHelp.out)
    XCTAssert(benchHelp.out.contains("--json"), benchHelp.out)
  }

  func testBadOptionIsAOneLineErrorWithNonZeroExit() throws {
    let result = try run(["bench", "kernels", "--threads", "0"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains("--threads must be in 1...256, got 0"), result.err)
  }

  func testKernelBenchJSONLines() throws {
    let result = try run(["bench", "kernels", "--json", "--threads", "2", "--budget", "0.001"])
    XCTAssertEqual(result.status, 0, result.err)
    let lines = result.out.split(separator: "\n")
    XCTAssertGreaterThan(lines.count, 50)
    var names = Set<String>()
    for line in lines {
      let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      for key in ["name", "threads", "ms", "gflops", "gbps"] { XCTAssertNotNil(object[key], "\(key) missing in \(line)") }
      names.insert(object["name"] as! String)
    }
    XCTAssert(names.contains("copy 512MiB (DRAM)"))
    XCTAssert(names.contains("gemm 512x512x512"))
    XCTAssert(names.contains("conv1x1 64->64 bwd-weight [64,64,8,8]"))
  }

  func testSearchBenchMethodsOnATinyBatch() throws {
    // Weight counts from Scripts/reference/darts_reference.py (K=4 + β; stage 3 with
    // pdarts_switches(stage=3, rule="cyclic")): both engines time the same networks.
    for (method, extra, expected, weights) in [
      ("pc-darts", [String](), ["pc-darts K=4"], 299_578), ("p-darts", ["--stage", "3"], ["p-darts stage 3 (17 cells, 3 ops)"], 1_639_530),
    ] {
      let result = try run(["bench", "search", "--method", method, "--batch", "2", "--steps", "1", "--threads", "2", "--json"] + extra)
      XCTAssertEqual(result.status, 0, result.err)
      let objects = try result.out.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
      XCTAssertEqual(objects.map { $0["what"] as? String }, expected)
      for object in objects {
        XCTAssertGreaterThan(object["median_ms"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(object["peak_tensor_bytes"] as? Int ?? 0, 0)
        XCTAssertEqual(object["parameters"] as? Int, weights)
      }
    }
    // Side by side: DARTS and PC-DARTS steps alternating in one process, then their ratios.
    let beside = try run(["bench", "search", "--method", "pc-darts", "--beside-darts", "--batch", "2", "--steps", "1", "--threads", "2", "--json"])
    XCTAssertEqual(beside.status, 0, beside.err)
    let lines = try beside.out.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    XCTAssertEqual(lines.map { $0["what"] as? String }, ["darts order 1", "pc-darts K=4", nil])
    XCTAssertEqual(lines.prefix(2).map { $0["parameters"] as? Int }, [1_930_618, 299_578])
    let ratio = try XCTUnwrap(lines.last)
    XCTAssertEqual(ratio["ratio"] as? String, "pc-darts K=4 / darts order 1")
    let speed = try XCTUnwrap(ratio["images_per_s"] as? Double)
    let dartsMs = try XCTUnwrap(lines[0]["median_ms"] as? Double), pcMs = try XCTUnwrap(lines[1]["median_ms"] as? Double)
    XCTAssertEqual(speed, dartsMs / pcMs, accuracy: 1e-9)
    XCTAssertEqual(ratio["peak_tensor_bytes"] as? Double ?? 0, Double(lines[1]["peak_tensor_bytes"] as! Int) / Double(lines[0]["peak_tensor_bytes"] as! Int), accuracy: 1e-12)
    for (bad, message) in [
      (["--method", "darts", "--beside-darts"], "--beside-darts is for --method pc-darts, without --pytorch"),
      (["--method", "pc-darts", "--order", "2"], "--order 2 is for --method darts only"),
      (["--method", "darts", "--stage", "1"], "--stage is 1, 2 or 3 with --method p-darts"),
      (["--method", "p-darts", "--stage", "4"], "--stage is 1, 2 or 3 with --method p-darts"),
    ] {
      let result = try run(["bench", "search"] + bad)
      XCTAssertNotEqual(result.status, 0, "\(bad)")
      XCTAssert(result.err.contains(message), result.err)
    }
  }

  /// `--pass` times the weight step alone or an evaluation forward pass (the figures the README
  /// projects whole runs from), labelled as such; it compares nothing and a training step has no
  /// weights-only pass.
  func testBenchPassesAreLabelledAndChecked() throws {
    for (command, pass, what) in [
      (["bench", "search", "--method", "pc-darts", "--batch", "2"], "weights-only", "pc-darts K=4 (weights only)"),
      (["bench", "search", "--method", "pc-darts", "--batch", "2"], "evaluation", "pc-darts K=4 (evaluation)"),
      (["bench", "train", "--channels", "4", "--layers", "3", "--batch", "2"], "evaluation", "train DARTS_V2 C=4 L=3 (evaluation)"),
    ] {
      let result = try run(command + ["--pass", pass, "--steps", "1", "--threads", "2", "--json"])
      XCTAssertEqual(result.status, 0, result.err)
      let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
      XCTAssertEqual(object["what"] as? String, what)
      XCTAssertGreaterThan(object["median_ms"] as? Double ?? 0, 0)
    }
    for (bad, message) in [
      (["bench", "train", "--pass", "weights-only"], "--pass weights-only applies to bench search"),
      (["bench", "search", "--method", "pc-darts", "--pass", "evaluation", "--beside-darts"], "--pass evaluation takes none of --pytorch, --ranks and --beside-darts"),
      (["bench", "search", "--pass", "forward"], "--pass"),
    ] {
      let result = try run(bad)
      XCTAssertNotEqual(result.status, 0, "\(bad)")
      XCTAssert(result.err.contains(message), result.err)
    }
  }

  /// `bench … --pytorch` runs the reference script named by `--reference-script` (else
  /// Scripts/reference/darts_reference.py under the current directory), never one found by the
  /// binary's own source path; a missing script is one line naming the option, before any step.
  /// `--rounds 3`: the two engines' processes alternate three times; the report holds the
  /// medians (the stub's best steps are 10, 20 and 30 ms: 20) and their ratio.
  func testBenchRoundsAlternateTheEnginesAndReportMedians() throws {
    let directory = try temporaryDirectory()
    let counter = directory.appendingPathComponent("calls")
    let stub = directory.appendingPathComponent("stub_reference.sh")
    try """
      echo call >> \(counter.path)
      n=$(wc -l < \(counter.path))
      echo "{\\"min_ms\\": $((n * 10)), \\"peak_rss_bytes\\": 1000}"
      """.write(to: stub, atomically: true, encoding: .utf8)
    let result = try run(["bench", "search", "--method", "pc-darts", "--batch", "2", "--steps", "1", "--threads", "2", "--json",
                          "--pytorch", "/bin/sh", "--reference-script", stub.path, "--rounds", "3"])
    XCTAssertEqual(result.status, 0, result.err)
    XCTAssertEqual(try String(contentsOf: counter, encoding: .utf8).split(separator: "\n").count, 3, "three PyTorch runs")
    XCTAssertEqual(result.err.components(separatedBy: "# round").count - 1, 3, result.err)
    let line = try XCTUnwrap(result.out.split(separator: "\n").last, "no report")
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], result.out)
    XCTAssertEqual(object["rounds"] as? Int, 3)
    XCTAssertEqual(object["pytorch_best_ms"] as? Double, 20)
    let swift = try XCTUnwrap(object["swift_median_ms"] as? Double)
    XCTAssertEqual(try XCTUnwrap(object["speedup"] as? Double), 20 / swift, accuracy: 1e-9 * 20 / swift)
    XCTAssertEqual(object["pytorch_peak_bytes"] as? Double, 1000)
    XCTAssertEqual(try run(["bench", "train", "--rounds", "0"]).status == 0, false)
  }

  func testBenchRunsTheReferenceScriptItIsGiven() throws {
    let directory = try temporaryDirectory()
    let stub = directory.appendingPathComponent("stub_reference.sh")
    try #"echo '{"min_ms": 7.5, "peak_rss_bytes": 1000}'"#.write(to: stub, atomically: true, encoding: .utf8)
    let bench = ["bench", "search", "--method", "pc-darts", "--batch", "2", "--steps", "1", "--threads", "2", "--json"]
    let result = try run(bench + ["--pytorch", "/bin/sh", "--reference-script", stub.path])
    XCTAssertEqual(result.status, 0, result.err)
    let objects = try result.out.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    let pytorch = try XCTUnwrap(objects.first { $0["engine"] as? String == "pytorch" }, result.out)
    XCTAssertEqual(pytorch["median_ms"] as? Double, 7.5)
    XCTAssertEqual(pytorch["peak_bytes"] as? Int, 1000)

    let missing = directory.appendingPathComponent("none.py").path
    for command in [["bench", "train", "--steps", "1"], bench] {
      let refused = try run(command + ["--pytorch", "/bin/sh", "--reference-script", missing])
      XCTAssertNotEqual(refused.status, 0)
      XCTAssert(refused.err.contains("--reference-script \(missing): no such file"), refused.err)
      XCTAssertEqual(refused.out, "", "refused before timing anything")
    }
    // Elsewhere than a checkout, without the option: told to pass it.
    let process = Process()
    process.executableURL = try dartsExecutable
    process.arguments = bench + ["--pytorch", "/bin/sh"]
    process.currentDirectoryURL = directory
    let err = Pipe()
    (process.standardOutput, process.standardError) = (FileHandle.nullDevice, err)
    try process.run()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    XCTAssertNotEqual(process.terminationStatus, 0)
    XCTAssert(message.contains("no PyTorch reference script at Scripts/reference/darts_reference.py"), message)
    XCTAssert(message.contains("pass --reference-script PATH"), message)
  }

  /// The options `search` and `train` share are declared once, each with its command's wording:
  /// both list every one of them, and both refuse a bad value of one with the same line.
  func testSearchAndTrainShareTheirRunOptions() throws {
    func help(_ command: String) throws -> String {
      let result = try run([command, "--help"])
      XCTAssertEqual(result.status, 0, result.err)
      return result.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
    let (search, train) = (try help("search"), try help("train"))
    for flag in [
      "dataset", "data", "image-size", "limit", "train-portion", "batch-size", "epochs", "learning-rate", "learning-rate-min",
      "warmup-epochs", "momentum", "weight-decay", "grad-clip", "crop-padding", "init-channels", "layers", "seed", "threads",
      "max-steps-per-epoch", "checkpoint-every", "run-dir", "resume",
    ] {
      XCTAssert(search.contains("--\(flag) <\(flag)>"), flag)
      XCTAssert(train.contains("--\(flag) <\(flag)>"), flag)
    }
    XCTAssert(search.contains("--flip/--no-flip Random horizontal flips."), search)
    XCTAssert(train.contains("--flip/--no-flip Random horizontal flips."), train)
    XCTAssert(search.contains("--batch-size <batch-size> Batch size of both splits."), search)
    XCTAssert(train.contains("--batch-size <batch-size> Batch size."), train)
    XCTAssert(search.contains("--run-dir <run-dir> Run directory (default: runs/search-<method>-<time>)."), search)
    XCTAssert(train.contains("--run-dir <run-dir> Run directory (default: runs/train-<genotype>-<time>)."), train)
    for command in ["search", "train"] {
      let result = try run([command, "--batch-size", "-4"])
      XCTAssertNotEqual(result.status, 0)
      XCTAssert(result.err.contains("--batch-size must be positive"), result.err)
    }
  }
}

extension XCTestCase {
  /// A fresh directory, removed after the test.
  func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("darts-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }

  /// Starts `darts arguments…` writing the run directory `run` and kills it with SIGKILL as
  /// soon as its first checkpoint exists (wherever the run is then).
  func runDartsKilledAtFirstCheckpoint(_ arguments: [String], run: URL) throws {
    let checkpoint = run.appendingPathComponent("checkpoint.safetensors")
    try runDartsKilled(arguments) { FileManager.default.fileExists(atPath: checkpoint.path) }
  }

  /// Starts `darts arguments…` writing the run directory `run` and kills it with SIGKILL as
  /// soon as its `events.jsonl` contains `marker` (an event type, say).
  func runDartsKilled(_ arguments: [String], run: URL, onceEventsContain marker: String) throws {
    let log = run.appendingPathComponent("events.jsonl")
    try runDartsKilled(arguments) { (try? String(contentsOf: log, encoding: .utf8))?.contains(marker) ?? false }
  }

  /// Starts `darts arguments…` and kills it with SIGKILL as soon as `condition` holds (or it
  /// has ended).
  private func runDartsKilled(_ arguments: [String], when condition: () -> Bool) throws {
    let process = Process()
    process.executableURL = try dartsExecutable
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    while process.isRunning && !condition() { usleep(2_000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  /// Runs `arguments` (a `search` or `train` command) to the end in a run directory
  /// `reference`, and again in `interrupted`, killed at its first checkpoint and resumed with
  /// `<command> --resume`, which must succeed. Returns both directories.
  func uninterruptedAndResumedRuns(_ arguments: [String]) throws -> (reference: URL, resumed: URL) {
    let root = try temporaryDirectory()
    let reference = root.appendingPathComponent("reference")
    XCTAssertEqual(try runDarts(arguments + ["--run-dir", reference.path]).status, 0)
    let interrupted = root.appendingPathComponent("interrupted")
    try runDartsKilledAtFirstCheckpoint(arguments + ["--run-dir", interrupted.path], run: interrupted)
    let resumed = try runDarts([arguments[0], "--resume", interrupted.path])
    XCTAssertEqual(resumed.status, 0, resumed.err)
    return (reference, interrupted)
  }
}
