import Foundation
import XCTest

/// `darts select --method pt` and `darts search --select pt` through the binary: a tiny
/// search (2-node cells: 5 edges, 1 node with a choice of inputs) and a selection at
/// decision interval 1 (6 tuning epochs), its exact continuation after `kill -9`, and bad
/// input.
final class SelectionCLITests: XCTestCase {
  let tinySearch = [
    "search", "--limit", "64", "--batch-size", "16", "--init-channels", "4", "--layers", "3", "--nodes", "2",
    "--epochs", "2", "--max-steps-per-epoch", "2", "--checkpoint-every", "1", "--threads", "2",
  ]

  func select(_ run: URL) -> [String] { ["select", "--method", "pt", run.path, "--decision-interval", "1"] }

  func events(in directory: URL) throws -> [[String: Any]] {
    try String(contentsOf: directory.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n")
      .map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
  }

  /// The events without the fields that measure time or memory, as sorted-key JSON lines.
  func timelessEvents(in directory: URL) throws -> [String] {
    try events(in: directory).map { event in
      let kept = event.filter { !["seconds", "peak_memory_bytes", "wall_time"].contains($0.key) }
      return String(decoding: try JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys]), as: UTF8.self)
    }
  }

  /// A finished tiny search in `root/name`.
  func finishedSearch(_ root: URL, _ name: String) throws -> URL {
    let run = root.appendingPathComponent(name)
    let result = try runDarts(tinySearch + ["--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    return run
  }

  func testSelectionKilledAndRerunIsBitIdenticalToAnUninterruptedOne() throws {
    let root = try temporaryDirectory()
    let reference = try finishedSearch(root, "reference")
    let interrupted = root.appendingPathComponent("interrupted")
    try FileManager.default.copyItem(at: reference, to: interrupted)

    let result = try runDarts(select(reference))
    XCTAssertEqual(result.status, 0, result.err)
    XCTAssert(result.out.contains("decision: normal node 3 keeps edges"), result.out)
    let selection = reference.appendingPathComponent("selection-pt")
    let objects = try events(in: selection)
    let decisions = objects.filter { $0["type"] as? String == "decision" }
    XCTAssertEqual(decisions.count, 2 * (5 + 1))
    XCTAssertEqual(decisions.map { $0["epoch"] as? Int }, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    XCTAssertEqual(decisions.map { $0["cell"] as? String }, Array(repeating: ["normal", "reduce"], count: 6).flatMap { $0 })
    let operationEdges = decisions.filter { $0["kind"] as? String == "operation" && $0["cell"] as? String == "normal" }.compactMap { $0["edge"] as? Int }
    XCTAssertEqual(operationEdges.sorted(), Array(0..<5), "each edge decided once, in a random order")
    for decision in decisions where decision["kind"] as? String == "operation" {
      XCTAssertEqual((decision["scores"] as? [[String: Any]])?.count, 8, "one score per operation of the darts space")
    }
    let topology = try XCTUnwrap(decisions.last)
    XCTAssertEqual(topology["node"] as? Int, 3)
    XCTAssertEqual((topology["dropped_edges"] as? [Int])?.count, 1)
    let epochs = objects.filter { $0["type"] as? String == "epoch" }
    XCTAssertEqual(epochs.count, 6)
    let rates = epochs.compactMap { $0["lr"] as? Double }
    XCTAssertEqual(rates.first ?? 0, 0.005, accuracy: 1e-12, "the demo search's lr 0.05 / 10")
    XCTAssertEqual(objects.filter { $0["type"] as? String == "step" }.count, 6 * 2)
    let architecture = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: selection.appendingPathComponent("architecture.json"))) as? [String: Any])
    for cell in ["normal", "reduce"] {
      let projected = try XCTUnwrap(architecture["projected_\(cell)"] as? [String: Any])
      let values = try XCTUnwrap(projected["values"] as? [Double])
      XCTAssert(values.allSatisfy { $0 == 0 || $0 == 1 }, "\(cell): \(values)")
      XCTAssertEqual(values.filter { $0 == 1 }.count, 4, "\(cell): 5 one-hot rows, 1 discarded")
    }
    let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: selection.appendingPathComponent("config.json"))) as? [String: Any])
    XCTAssertEqual(config["decisionInterval"] as? Int, 1)
    XCTAssertEqual(config["method"] as? String, "pt")

    // Killed once the selection has checkpointed a few times, then the same command again.
    let process = Process()
    process.executableURL = try dartsExecutable
    process.arguments = select(interrupted)
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let log = interrupted.appendingPathComponent("selection-pt/events.jsonl")
    while process.isRunning && ((try? String(contentsOf: log, encoding: .utf8))?.components(separatedBy: "\"type\":\"step\"").count ?? 0) < 6 {
      usleep(2_000)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertFalse(FileManager.default.fileExists(atPath: interrupted.appendingPathComponent("selection-pt/genotype.json").path), "killed mid-selection")
    let resumed = try runDarts(select(interrupted))
    XCTAssertEqual(resumed.status, 0, resumed.err)
    let continued = interrupted.appendingPathComponent("selection-pt")
    for name in ["genotype.json", "architecture.json", "checkpoint.safetensors", "config.json"] {
      XCTAssertEqual(
        try Data(contentsOf: selection.appendingPathComponent(name)), try Data(contentsOf: continued.appendingPathComponent(name)),
        "\(name) differs after kill -9 and rerun")
    }
    XCTAssertEqual(try timelessEvents(in: selection), try timelessEvents(in: continued))

    // A finished selection says so and prints its genotype again.
    let again = try runDarts(select(interrupted))
    XCTAssertEqual(again.status, 0, again.err)
    XCTAssert(again.out.contains("has already finished"), again.out)
    XCTAssert(again.out.contains("selected genotype: "), again.out)
    XCTAssertEqual(try timelessEvents(in: selection), try timelessEvents(in: continued))
  }

  /// `darts search --select pt` runs the same selection in the same process as `darts select`
  /// does afterwards.
  func testSearchWithSelectRunsTheSelectionIntoTheRunDirectory() throws {
    let root = try temporaryDirectory()
    let run = root.appendingPathComponent("with-select")
    let result = try runDarts(tinySearch + ["--select", "pt", "--decision-interval", "1", "--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    XCTAssert(result.out.contains("selected genotype: "), result.out)
    let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any])
    XCTAssertEqual((config["selection"] as? [String: Any])?["decisionInterval"] as? Int, 1)
    let separate = try finishedSearch(root, "separate")
    XCTAssertEqual(try runDarts(select(separate)).status, 0)
    for name in ["genotype.json", "architecture.json"] {
      XCTAssertEqual(
        try Data(contentsOf: run.appendingPathComponent("selection-pt/\(name)")), try Data(contentsOf: separate.appendingPathComponent("selection-pt/\(name)")), name)
    }
    // A resumed finished search with --select continues (here: reports) its selection.
    let resumed = try runDarts(["search", "--resume", run.path])
    XCTAssertEqual(resumed.status, 0, resumed.err)
    XCTAssert(resumed.out.contains("has already finished"), resumed.out)
    let help = try runDarts(["search", "--help"]).out
    for option in ["--select <select>", "--decision-interval <decision-interval>", "--criterion <criterion>"] { XCTAssert(help.contains(option), option) }
  }

  func testBadSelectionInputGivesOneLineErrors() throws {
    let root = try temporaryDirectory()
    let missing = root.appendingPathComponent("nope")
    var result = try runDarts(["select", "--method", "pt", missing.path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains(missing.path), result.err)
    XCTAssertEqual(result.err.split(separator: "\n").count, 1, result.err)

    // A search killed at its first checkpoint has not finished.
    let unfinished = root.appendingPathComponent("unfinished")
    try runDartsKilledAtFirstCheckpoint(tinySearch + ["--run-dir", unfinished.path], run: unfinished)
    result = try runDarts(["select", "--method", "pt", unfinished.path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains("has not finished"), result.err)
    XCTAssert(result.err.contains("darts search --resume"), result.err)
    XCTAssertEqual(result.err.split(separator: "\n").count, 1, result.err)
    XCTAssertFalse(FileManager.default.fileExists(atPath: unfinished.appendingPathComponent("selection-pt").path))

    let bad: [([String], String)] = [
      (["select", "--method", "pt", root.path, "--decision-interval", "0"], "--decision-interval must be in 1...100, got 0"),
      (["select", "--method", "pt", root.path, "--max-steps-per-epoch", "0"], "--max-steps-per-epoch must be positive, got 0"),
      (["search", "--decision-interval", "2"], "--decision-interval and --criterion apply to --select pt only"),
      (["search", "--method", "p-darts", "--select", "pt"], "not P-DARTS"),
    ]
    for (arguments, message) in bad {
      result = try runDarts(arguments)
      XCTAssertNotEqual(result.status, 0, "\(arguments)")
      XCTAssert(result.err.contains(message), "\(arguments): \(result.err)")
    }
  }
}
