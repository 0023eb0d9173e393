import Foundation
import XCTest

/// The TensorBoard event files of runs, read back with TensorBoard's own reader
/// (`Scripts/checks/read_tensorboard.py`, its `EventAccumulator`): a tiny search and a tiny
/// training run, `darts tensorboard` after the file is deleted, a run killed and resumed, and
/// bad run directories.
final class TensorBoardCLITests: XCTestCase {
  /// The tiny search of `SearchCLITests` (2 epochs of 4 steps, α steps in the second),
  /// checkpointing every 2 steps.
  let tinySearch = [
    "search", "--limit", "256", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "4", "--arch-warmup-epochs", "1", "--checkpoint-every", "2", "--threads", "2",
  ]
  /// The tiny training run of `TrainCLITests` (2 epochs of 3 steps).
  let tinyTrain = [
    "train", "--limit", "256", "--test-limit", "64", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "3", "--checkpoint-every", "1", "--threads", "2",
  ]

  /// What `read_tensorboard.py` prints.
  struct TensorBoardRead: Decodable, Equatable {
    struct File: Decodable, Equatable {
      let name: String
      let records: Int
      /// The version string of its first record.
      let file_version: String?
    }
    let files: [File]
    /// Tag → [step, value, wall time] per event.
    let scalars: [String: [[Double]]]
    /// Tag → [step, text] per event.
    let texts: [String: [[StepOrText]]]
  }

  enum StepOrText: Decodable, Equatable {
    case step(Int)
    case text(String)
    init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      if let step = try? container.decode(Int.self) { self = .step(step) } else { self = .text(try container.decode(String.self)) }
    }
  }

  func readTensorBoard(_ run: URL, file: StaticString = #filePath, line: UInt = #line) throws -> TensorBoardRead {
    let result = try runPythonCheck("read_tensorboard.py", [run.path])
    XCTAssertEqual(result.status, 0, result.err, file: file, line: line)
    return try JSONDecoder().decode(TensorBoardRead.self, from: Data(result.out.utf8))
  }

  func events(_ run: URL) throws -> [[String: Any]] {
    try String(contentsOf: run.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n").map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
  }

  /// The scalars the README promises for `events`: `<type>/<field>` for every top-level
  /// number, at the latest `global_step`, with the event's wall time.
  func expectedScalars(_ events: [[String: Any]]) -> [String: [[Double]]] {
    let positions: Set<String> = ["event", "wall_time", "epoch", "step", "global_step", "stage"]
    var expected: [String: [[Double]]] = [:]
    var step = 0
    for event in events {
      step = event["global_step"] as? Int ?? step
      guard let type = event["type"] as? String, let wallTime = event["wall_time"] as? Double else { continue }
      for (key, value) in event where !positions.contains(key) {
        guard let number = value as? NSNumber, !(value is String) else { continue }
        expected["\(type)/\(key)", default: []].append([Double(step), number.doubleValue, wallTime])
      }
    }
    return expected
  }

  /// Every expected scalar is in `read` at its step, equal to float32 precision, with its
  /// wall time.
  func assertScalars(_ read: TensorBoardRead, equal expected: [String: [[Double]]], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertFalse(expected.isEmpty, file: file, line: line)
    for (tag, points) in expected {
      guard let found = read.scalars[tag] else {
        XCTFail("no scalar \(tag) in \(read.scalars.keys.sorted())", file: file, line: line)
        continue
      }
      XCTAssertEqual(found.map { $0[0] }, points.map { $0[0] }, "\(tag): steps", file: file, line: line)
      for (a, b) in zip(found, points) {
        XCTAssertEqual(a[1], b[1], accuracy: 1e-6 * max(abs(b[1]), 1e-30), "\(tag) at step \(b[0])", file: file, line: line)
        XCTAssertEqual(a[2], b[2], accuracy: 1e-6, "\(tag): wall time", file: file, line: line)
      }
    }
  }

  func testSearchRunHasTensorBoardScalarsAlphasAndGenotypesAndTheCommandRewritesThem() throws {
    let run = try temporaryDirectory().appendingPathComponent("search")
    let result = try runDarts(tinySearch + ["--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    let objects = try events(run)
    let read = try readTensorBoard(run)
    XCTAssertEqual(read.files.count, 1)
    XCTAssert(read.files[0].name.hasPrefix("events.out.tfevents."), read.files[0].name)
    XCTAssertEqual(read.files[0].records, 1 + objects.count, "the version, then one record per event")
    XCTAssertEqual(read.files[0].file_version, "brain.Event:2")

    let expected = expectedScalars(objects)
    for tag in ["step/loss", "step/accuracy", "step/lr", "step/seconds", "step/peak_memory_bytes", "epoch/train_loss", "epoch/valid_loss",
                "epoch/normal_skip_connects", "epoch/reduce_skip_connects", "epoch_start/lr"] {
      XCTAssertNotNil(expected[tag], tag)
    }
    XCTAssertEqual(expected["step/loss"]?.map { $0[0] }, (1...8).map(Double.init))
    XCTAssertEqual(expected["step/architecture_loss"]?.map { $0[0] }, (5...8).map(Double.init), "α steps in epoch 2")
    assertScalars(read, equal: expected)

    // α softmax: 14 edges × 8 operations per cell type, each edge summing to 1, at each epoch's end.
    let epochs = objects.filter { $0["type"] as? String == "epoch" }
    let epochSteps = epochs.map { Double($0["global_step"] as! Int) }
    XCTAssertEqual(epochSteps, [4, 8])
    for cell in ["normal", "reduce"] {
      let alphas = read.scalars.filter { $0.key.hasPrefix("alphas_\(cell)/") }
      XCTAssertEqual(alphas.count, 14 * 8, cell)
      let byEdge = Dictionary(grouping: alphas) { $0.key.split(separator: "/")[1] }
      XCTAssertEqual(byEdge.count, 14)
      for (edge, operations) in byEdge {
        XCTAssertEqual(operations.count, 8)
        for (epoch, step) in epochSteps.enumerated() {
          let total = operations.map { $0.value[epoch][1] }.reduce(0, +)
          XCTAssertEqual(total, 1, accuracy: 1e-5, "\(cell) \(edge) at step \(step)")
          XCTAssertEqual(operations.map { $0.value[epoch][0] }, Array(repeating: step, count: 8))
        }
      }
      XCTAssert(alphas.contains { $0.value[0][1] != $0.value[1][1] }, "\(cell): α moved in epoch 2")
      // One value against the epoch event: edge 4 (node 3 ← 2), operation 5 of its row.
      let architecture = try XCTUnwrap(epochs[1]["architecture"] as? [String: Any])
      let softmax = try XCTUnwrap((architecture["alphas_\(cell)"] as? [String: Any])?["softmax"] as? [Double])
      let names = try XCTUnwrap(architecture["\(cell)_operations"] as? [[String]])
      let value = try XCTUnwrap(read.scalars["alphas_\(cell)/edge_2_3/\(names[4][5])"]?[1][1])
      XCTAssertEqual(value, softmax[4 * 8 + 5], accuracy: 1e-6 * softmax[4 * 8 + 5])
    }

    // The genotype as text at every epoch's end.
    let genotypes = try XCTUnwrap(read.texts["epoch/genotype"])
    XCTAssertEqual(genotypes, epochs.map { [.step($0["global_step"] as! Int), .text($0["genotype"] as! String)] })

    // Deleted and rewritten by `darts tensorboard`: the same tags, steps, values and wall times.
    try FileManager.default.removeItem(at: run.appendingPathComponent(read.files[0].name))
    let rewritten = try runDarts(["tensorboard", run.path])
    XCTAssertEqual(rewritten.status, 0, rewritten.err)
    XCTAssert(rewritten.out.hasPrefix("written: \(run.path)/events.out.tfevents."), rewritten.out)
    let again = try readTensorBoard(run)
    XCTAssertEqual(again.files.map(\.records), read.files.map(\.records))
    XCTAssertEqual(again.scalars, read.scalars)
    XCTAssertEqual(again.texts, read.texts)
  }

  /// PC-DARTS' β: one tag per edge, normalised over each node's inputs.
  func testPartialChannelSearchHasEdgeWeights() throws {
    let run = try temporaryDirectory().appendingPathComponent("pc")
    let result = try runDarts(tinySearch + ["--method", "pc-darts", "--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    let read = try readTensorBoard(run)
    assertScalars(read, equal: expectedScalars(try events(run)))
    for cell in ["normal", "reduce"] {
      XCTAssertEqual(read.scalars.keys.filter { $0.hasPrefix("alphas_\(cell)/") }.count, 14 * 8)
      let betas = read.scalars.filter { $0.key.hasPrefix("betas_\(cell)/") }
      XCTAssertEqual(betas.count, 14, cell)
      for node in 2...5 {
        let inputs = (0..<node).map { "betas_\(cell)/edge_\($0)_\(node)" }
        for epoch in 0..<2 {
          let total = try inputs.map { try XCTUnwrap(betas[$0]?[epoch][1], $0) }.reduce(0, +)
          XCTAssertEqual(total, 1, accuracy: 1e-5, "\(cell) node \(node), epoch \(epoch)")
        }
      }
    }
  }

  func testTrainingRunHasTensorBoardScalars() throws {
    let run = try temporaryDirectory().appendingPathComponent("train")
    let result = try runDarts(tinyTrain + ["--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    let objects = try events(run)
    let read = try readTensorBoard(run)
    XCTAssertEqual(read.files.map(\.records), [1 + objects.count])
    let expected = expectedScalars(objects)
    for tag in ["step/loss", "step/auxiliary_loss", "step/drop_path", "epoch/test_top1", "epoch/test_loss", "epoch/train_accuracy"] {
      XCTAssertNotNil(expected[tag], tag)
    }
    XCTAssertEqual(expected["step/loss"]?.map { $0[0] }, (1...6).map(Double.init))
    assertScalars(read, equal: expected)
    XCTAssertEqual(Set(read.scalars.keys), Set(expected.keys), "a training run has no α")
  }

  /// Killed after step 3 is logged (its last checkpoint is from step 2) and resumed: the log
  /// is cut back to the checkpoint and so is the event file, so every step is there once.
  func testResumedRunMirrorsItsLogWithoutDuplicates() throws {
    let root = try temporaryDirectory()
    let run = root.appendingPathComponent("interrupted")
    try runDartsKilled(tinySearch + ["--run-dir", run.path], run: run, onceEventsContain: "\"global_step\":3,")
    let resumed = try runDarts(["search", "--resume", run.path])
    XCTAssertEqual(resumed.status, 0, resumed.err)
    let objects = try events(run)
    let read = try readTensorBoard(run)
    XCTAssertEqual(read.files.map(\.records), [1 + objects.count])
    XCTAssertEqual(read.scalars["step/loss"]?.map { $0[0] }, (1...8).map(Double.init))
    assertScalars(read, equal: expectedScalars(objects))
  }

  func testBadRunDirectoriesGiveOneLineErrors() throws {
    let root = try temporaryDirectory()
    let missing = root.appendingPathComponent("nope")
    var result = try runDarts(["tensorboard", missing.path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertEqual(result.err.split(separator: "\n").count, 1, result.err)
    XCTAssert(result.err.contains(missing.appendingPathComponent("events.jsonl").path), result.err)

    let corrupt = root.appendingPathComponent("corrupt")
    try FileManager.default.createDirectory(at: corrupt, withIntermediateDirectories: true)
    try Data("{\"type\": \"step\", \"global_step\": 1, \"loss\": 2}\n{\"type\": \"st\n".utf8).write(to: corrupt.appendingPathComponent("events.jsonl"))
    result = try runDarts(["tensorboard", corrupt.path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertEqual(result.err.split(separator: "\n").count, 1, result.err)
    XCTAssert(result.err.contains("\(corrupt.path)/events.jsonl: line 2 is not a JSON object"), result.err)
  }
}
