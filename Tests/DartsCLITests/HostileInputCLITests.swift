import Foundation
import XCTest
import _TestSupport

/// Hostile input through the binary (issue 11): sizes from flags and files bounded before
/// anything is allocated, thread counts bounded, checkpoint state validated on load, and every
/// error one line naming the file, flag or step.
final class HostileInputCLITests: XCTestCase {
  let tinySearch = [
    "search", "--limit", "64", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "2", "--threads", "1",
  ]
  let tinyTrain = [
    "train", "--limit", "64", "--test-limit", "32", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "1", "--max-steps-per-epoch", "2", "--threads", "1",
  ]

  /// Runs `arguments` and checks a non-zero exit (not a signal) with one error line
  /// containing every part of `mentions`.
  @discardableResult
  func refuse(_ arguments: [String], mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let result = try runDarts(arguments)
    XCTAssert(result.status == 1 || result.status == 64, "\(arguments): exit \(result.status) (a trap or abort?) \(result.err)", file: file, line: line)
    let lines = result.err.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.contains("--help' for more") && !$0.isEmpty }
    XCTAssertEqual(lines.count, 1, "\(arguments): \(result.err)", file: file, line: line)
    for part in mentions { XCTAssert(result.err.contains(part), "\(arguments): \(result.err) lacks \(part)", file: file, line: line) }
    for raw in ["NSCocoaErrorDomain", "Error Domain=", "DecodingError", "Debug description", "UserInfo"] {
      XCTAssertFalse(result.err.contains(raw), "\(arguments): raw Foundation error: \(result.err)", file: file, line: line)
    }
    return result.err
  }

  // MARK: Sizes from flags

  func testHugeChannelsAndLayersFromFlagsAreRefusedBeforeAllocating() throws {
    try refuse(["genotype", "params", "DARTS_V2", "--init-channels", "1000000"], mentions: ["--init-channels", "1000000"])
    // Within the bounds but beyond any machine's memory: the estimate refuses it.
    try refuse(["genotype", "params", "DARTS_V2", "--init-channels", "4000", "--layers", "1000"], mentions: ["needs at least", "GiB"])
    try refuse(["genotype", "params", "DARTS_V2", "--layers", "-5"], mentions: ["--layers"])
    let run = try temporaryDirectory().appendingPathComponent("run")
    try refuse(tinyTrain + ["--init-channels", "1000000", "--run-dir", run.path], mentions: ["--init-channels"])
    try refuse(tinyTrain + ["--init-channels", "2000", "--batch-size", "4096", "--run-dir", run.path], mentions: ["needs at least", "--batch-size"])
    try refuse(tinySearch + ["--init-channels", "1000000", "--run-dir", run.path], mentions: ["--init-channels"])
    try refuse(tinySearch + ["--init-channels", "1024", "--layers", "60", "--batch-size", "4096", "--run-dir", run.path], mentions: ["needs at least", "supernet"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: run.path), "a refused run leaves no directory")
    try refuse(["bench", "search", "--channels", "1000000"], mentions: ["--channels"])
    try refuse(["bench", "train", "--channels", "3000", "--batch", "512"], mentions: ["needs at least"])
  }

  func testThreadCountsAreBoundedAndExcessIsSaid() throws {
    try refuse(tinySearch + ["--threads", "100000"], mentions: ["--threads", "100000"])
    try refuse(tinyTrain + ["--threads", "100000"], mentions: ["--threads"])
    try refuse(["test", "--checkpoint", "x.safetensors", "--threads", "100000"], mentions: ["--threads"])
    try refuse(["bench", "kernels", "--threads", "100000"], mentions: ["--threads"])
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let run = try temporaryDirectory().appendingPathComponent("run")
    let result = try runDarts(tinySearch + ["--threads", "\(cores + 1)", "--epochs", "1", "--max-steps-per-epoch", "1", "--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    XCTAssert(result.err.contains("more than the \(cores) cores"), result.err)
  }

  func testNegativeAndZeroFlagValuesGiveTheRealReason() throws {
    try refuse(tinySearch + ["--batch-size", "-4"], mentions: ["--batch-size must be positive"])
    try refuse(tinySearch + ["--limit", "0"], mentions: ["--limit must be positive"])
    try refuse(tinyTrain + ["--epochs", "-1"], mentions: ["--epochs must be positive"])
    try refuse(tinySearch + ["--method", "p-darts", "--add-layers", "9223372036854775807", "0"], mentions: ["--add-layers"])
  }

  // MARK: Sizes and structure from files

  func testGenotypeFilesAreBoundedAndExact() throws {
    let root = try temporaryDirectory()
    func genotype(_ normal: String, nodes: Int = 1) throws -> String {
      let url = root.appendingPathComponent("g\(UUID().uuidString).json")
      let concat = (2..<(2 + nodes)).map(String.init).joined(separator: ", ")
      try #"{"normal": \#(normal), "normal_concat": [\#(concat)], "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1]], "reduce_concat": [2]}"#
        .write(to: url, atomically: true, encoding: .utf8)
      return url.path
    }
    try refuse(["genotype", "show", genotype(#"[["sep_conv_3x3", 0, 7], ["sep_conv_3x3", 1]]"#)], mentions: ["normal.0", "3 elements"])
    try refuse(["genotype", "show", genotype(#"[["sep_conv_3x3", 1.5], ["sep_conv_3x3", 1]]"#)], mentions: ["normal.0.1", "1.5 is not an integer"])
    try refuse(["genotype", "show", genotype(#"[["sep_conv_3x3", 0]"#)], mentions: ["not valid JSON"])
    // 40 nodes: structurally fine, but more than a cell may have.
    let edges = (0..<40).flatMap { _ in [#"["sep_conv_3x3", 0]"#, #"["skip_connect", 1]"#] }.joined(separator: ", ")
    try refuse(["genotype", "params", genotype("[\(edges)]", nodes: 40)], mentions: ["40 nodes", "32"])
    // 400,000 pairs: refused by its size, at once.
    let huge = String(repeating: #"["sep_conv_3x3", 0], "#, count: 400_000)
    let start = Date()
    try refuse(["genotype", "params", genotype("[\(huge)[\"sep_conv_3x3\", 0]]")], mentions: ["too large for a genotype"])
    XCTAssertLessThan(Date().timeIntervalSince(start), 30, "refused before parsing")
    let directory = root.appendingPathComponent("dir.json")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try refuse(["genotype", "show", directory.path], mentions: [directory.path, "is a directory"])
    try refuse(["test", "--checkpoint", directory.path], mentions: [directory.path, "is a directory"])
  }

  func testWeightFileMetadataIsCheckedBeforeTheNetworkIsBuilt() throws {
    let root = try temporaryDirectory()
    let run = root.appendingPathComponent("train")
    XCTAssertEqual(try runDarts(tinyTrain + ["--run-dir", run.path]).status, 0)
    let weights = run.appendingPathComponent("weights.safetensors")
    for (field, value, mention) in [("layers", -5, "--layers"), ("channels", 1_000_000, "--init-channels"), ("classes", 0, "classes")] {
      var parts = try SafetensorsFileParts(contentsOf: weights)
      var network = try XCTUnwrap(parts.metadataObject("network"))
      network[field] = value
      try parts.setMetadataObject("network", network)
      let crafted = root.appendingPathComponent("\(field).safetensors")
      try parts.write(to: crafted)
      try refuse(["test", "--checkpoint", crafted.path], mentions: [crafted.path, mention])
    }
    // The checkpoint's copy of the description too.
    var parts = try SafetensorsFileParts(contentsOf: run.appendingPathComponent("checkpoint.safetensors"))
    var state = try XCTUnwrap(parts.metadataObject("state"))
    var network = try XCTUnwrap(state["network"] as? [String: Any])
    network["layers"] = -5
    state["network"] = network
    try parts.setMetadataObject("state", state)
    let crafted = root.appendingPathComponent("checkpoint-layers.safetensors")
    try parts.write(to: crafted)
    try refuse(["test", "--checkpoint", crafted.path], mentions: [crafted.path, "--layers"])
    // A tensor whose shape product overflows.
    var overflow = try SafetensorsFileParts(contentsOf: weights)
    let name = try XCTUnwrap(overflow.header.keys.first { $0 != "__metadata__" })
    var entry = try XCTUnwrap(overflow.header[name] as? [String: Any])
    entry["shape"] = [1 << 32, 1 << 32, 1 << 32]
    overflow.header[name] = entry
    let overflowing = root.appendingPathComponent("overflow.safetensors")
    try overflow.write(to: overflowing)
    try refuse(["test", "--checkpoint", overflowing.path], mentions: [overflowing.path, name])
    // Flags over a weights file are bounded too.
    try refuse(["test", "--checkpoint", weights.path, "--init-channels", "1000000"], mentions: ["--init-channels"])
  }

  // MARK: Checkpoint state

  /// Rewrites the resume position of the checkpoint in `run`.
  func setPosition(_ run: URL, epoch: Int, step: Int) throws {
    let url = run.appendingPathComponent("checkpoint.safetensors")
    var parts = try SafetensorsFileParts(contentsOf: url)
    var state = try XCTUnwrap(parts.metadataObject("state"))
    state["position"] = ["epoch": epoch, "step": step]
    try parts.setMetadataObject("state", state)
    try parts.write(to: url)
  }

  func testCheckpointCursorsAreValidatedOnLoad() throws {
    let root = try temporaryDirectory()
    let search = root.appendingPathComponent("search")
    XCTAssertEqual(try runDarts(tinySearch + ["--run-dir", search.path]).status, 0)
    try setPosition(search, epoch: 0, step: -3)
    try refuse(["search", "--resume", search.path], mentions: ["checkpoint.safetensors", "step -3"])
    try setPosition(search, epoch: 3, step: 0)
    try refuse(["search", "--resume", search.path], mentions: ["checkpoint.safetensors", "epoch 3"])
    try setPosition(search, epoch: 1, step: 7)
    try refuse(["search", "--resume", search.path], mentions: ["checkpoint.safetensors", "step 7"])
    let train = root.appendingPathComponent("train")
    XCTAssertEqual(try runDarts(tinyTrain + ["--run-dir", train.path]).status, 0)
    try setPosition(train, epoch: -1, step: 0)
    try refuse(["train", "--resume", train.path], mentions: ["checkpoint.safetensors", "epoch -1"])
    try setPosition(train, epoch: 5, step: 0)
    try refuse(["train", "--resume", train.path], mentions: ["checkpoint.safetensors", "epoch 5"])
  }

  func testP_DARTSStageStateIsValidatedOnLoad() throws {
    let run = try temporaryDirectory().appendingPathComponent("p")
    let arguments = tinySearch + ["--method", "p-darts", "--add-layers", "1", "2", "--epochs", "1", "--arch-warmup-epochs", "0", "--run-dir", run.path]
    try runDartsKilledAtFirstCheckpoint(arguments, run: run)
    let url = run.appendingPathComponent("checkpoint.safetensors")
    var parts = try SafetensorsFileParts(contentsOf: url)
    var state = try XCTUnwrap(parts.metadataObject("state"))
    var progressive = try XCTUnwrap(state["progressive"] as? [String: Any])
    progressive["stage"] = 7
    state["progressive"] = progressive
    try parts.setMetadataObject("state", state)
    try parts.write(to: url)
    try refuse(["search", "--resume", run.path], mentions: ["checkpoint.safetensors", "stage 7"])
    progressive["stage"] = 0
    progressive["normalOperations"] = [["sep_conv_3x3"]]
    state["progressive"] = progressive
    try parts.setMetadataObject("state", state)
    try parts.write(to: url)
    try refuse(["search", "--resume", run.path], mentions: ["checkpoint.safetensors", "normal cell's operations"])
  }

  // MARK: Run directories and files of the wrong kind

  func testARunThatDiedBeforeItsFirstCheckpointRestartsFromItsConfig() throws {
    let root = try temporaryDirectory()
    let finished = root.appendingPathComponent("finished")
    XCTAssertEqual(try runDarts(tinySearch + ["--epochs", "1", "--run-dir", finished.path]).status, 0)
    let dead = root.appendingPathComponent("dead")
    try FileManager.default.createDirectory(at: dead, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: finished.appendingPathComponent("config.json"), to: dead.appendingPathComponent("config.json"))
    try #"{"event": 0, "type": "epoch_start"}"# .write(to: dead.appendingPathComponent("events.jsonl"), atomically: true, encoding: .utf8)
    let resumed = try runDarts(["search", "--resume", dead.path])
    XCTAssertEqual(resumed.status, 0, resumed.err)
    XCTAssert(resumed.out.contains("starting it again from config.json"), resumed.out)
    XCTAssertEqual(
      try Data(contentsOf: dead.appendingPathComponent("genotype.json")), try Data(contentsOf: finished.appendingPathComponent("genotype.json")),
      "the restarted run repeats the run of its config")
    // A directory with neither config nor checkpoint says so.
    let empty = root.appendingPathComponent("empty")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    try refuse(["search", "--resume", empty.path], mentions: [empty.path, "neither checkpoint.safetensors nor config.json"])
  }

  func testFilesOfTheWrongKindSaySo() throws {
    let root = try temporaryDirectory()
    let search = root.appendingPathComponent("search")
    XCTAssertEqual(try runDarts(tinySearch + ["--epochs", "1", "--run-dir", search.path]).status, 0)
    let train = root.appendingPathComponent("train")
    XCTAssertEqual(try runDarts(tinyTrain + ["--run-dir", train.path]).status, 0)
    try refuse(["test", "--checkpoint", search.appendingPathComponent("checkpoint.safetensors").path], mentions: ["is a search checkpoint", "darts train --genotype"])
    try refuse(["search", "--resume", train.path], mentions: ["is a training run, not a search run", "darts train --resume"])
    try refuse(["train", "--resume", search.path], mentions: ["is a search run, not a training run", "darts search --resume"])
    // A config with a missing key or a fraction where an integer belongs.
    let config = search.appendingPathComponent("config.json")
    var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: config)) as? [String: Any])
    object["batchSize"] = 1.5
    try JSONSerialization.data(withJSONObject: object).write(to: config)
    try refuse(["search", "--resume", search.path], mentions: [config.path, "batchSize: 1.5 is not an integer"])
    object.removeValue(forKey: "batchSize")
    try JSONSerialization.data(withJSONObject: object).write(to: config)
    try refuse(["search", "--resume", search.path], mentions: [config.path, "missing key 'batchSize'"])
  }
  /// Search spaces and β-DARTS options: bad flags and a bad space in `config.json` on resume.
  func testSearchSpaceAndRegularizerProblemsAreOneLine() throws {
    try refuse(tinySearch + ["--space", "s9"], mentions: ["--space", "s9"])
    try refuse(tinySearch + ["--space", "s1", "--nodes", "3"], mentions: ["--space s1 is defined for cells of 4 nodes (14 edges), not --nodes 3"])
    try refuse(tinySearch + ["--method", "p-darts", "--space", "s3"], mentions: ["--method p-darts keeps 5 operations", "--space s3 has 3"])
    try refuse(tinySearch + ["--regularizer", "beta", "--order", "2"], mentions: ["--regularizer beta is first order only"])
    try refuse(tinySearch + ["--beta-lambda-max", "10"], mentions: ["--beta-lambda-max and --beta-lambda-divisor apply to --regularizer beta only"])
    try refuse(tinySearch + ["--regularizer", "beta", "--beta-lambda-divisor", "0"], mentions: ["--beta-lambda-divisor must be positive"])
    try refuse(tinySearch + ["--regularizer", "beta", "--beta-lambda-max", "inf"], mentions: ["--beta-lambda-max must be finite"])

    let search = try temporaryDirectory().appendingPathComponent("search")
    XCTAssertEqual(try runDarts(tinySearch + ["--space", "s2", "--epochs", "1", "--run-dir", search.path]).status, 0)
    let config = search.appendingPathComponent("config.json")
    var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: config)) as? [String: Any])
    XCTAssertEqual(object["space"] as? String, "s2")
    object["space"] = "s9"
    try JSONSerialization.data(withJSONObject: object).write(to: config)
    try refuse(["search", "--resume", search.path], mentions: [config.path, "space", "s9"])
    // A valid space other than the checkpoint's: its α shapes do not match.
    object["space"] = "s3"
    try JSONSerialization.data(withJSONObject: object).write(to: config)
    try refuse(["search", "--resume", search.path], mentions: [search.appendingPathComponent("checkpoint.safetensors").path])
  }
}
