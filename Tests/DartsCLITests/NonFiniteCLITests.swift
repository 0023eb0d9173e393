import Foundation
import XCTest

/// Non-finite numbers never pass as results: `darts test` refuses NaN/∞ weights, a diverging
/// search or training stops at the step naming the quantity and a checkpoint that exists and
/// is finite, and NaN settings are rejected up front (flags and `config.json`).
final class NonFiniteCLITests: XCTestCase {
  let search = [
    "search", "--limit", "64", "--batch-size", "8", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "3", "--checkpoint-every", "1", "--threads", "2",
  ]
  let train = [
    "train", "--limit", "64", "--test-limit", "16", "--batch-size", "8", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "3", "--checkpoint-every", "1", "--threads", "2",
  ]

  /// The header of a safetensors file: each tensor's dtype and byte range in the data section,
  /// and where that section starts.
  func header(of url: URL) throws -> (tensors: [String: (dtype: String, range: Range<Int>)], dataStart: Int) {
    let bytes = try Data(contentsOf: url)
    let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as? [String: Any])
    var tensors: [String: (dtype: String, range: Range<Int>)] = [:]
    for (name, value) in json where name != "__metadata__" {
      let entry = try XCTUnwrap(value as? [String: Any])
      let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
      tensors[name] = (try XCTUnwrap(entry["dtype"] as? String), offsets[0]..<offsets[1])
    }
    return (tensors, 8 + length)
  }

  /// The F32 tensors of a safetensors file holding a NaN or an infinity, sorted.
  func nonFiniteTensors(in url: URL) throws -> [String] {
    let bytes = try Data(contentsOf: url)
    let (tensors, start) = try header(of: url)
    return tensors.filter { _, entry in
      entry.dtype == "F32" && stride(from: entry.range.lowerBound, to: entry.range.upperBound, by: 4).contains { offset in
        let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[start + offset + $1]) << (8 * $1) }
        return !Float(bitPattern: bits).isFinite
      }
    }.keys.sorted()
  }

  /// Overwrites the first element of the F32 tensor `name` of a safetensors file with `value`.
  func poison(_ url: URL, tensor name: String, with value: Float) throws {
    var bytes = try Data(contentsOf: url)
    let (tensors, start) = try header(of: url)
    let entry = try XCTUnwrap(tensors[name], name)
    XCTAssertEqual(entry.dtype, "F32")
    for i in 0..<4 { bytes[start + entry.range.lowerBound + i] = UInt8(truncatingIfNeeded: value.bitPattern >> (8 * i)) }
    try bytes.write(to: url)
    XCTAssertEqual(try nonFiniteTensors(in: url), [name])
  }

  func testTestRefusesNaNAndInfiniteWeights() throws {
    let run = try temporaryDirectory().appendingPathComponent("run")
    let trained = try runDarts(train + ["--epochs", "1", "--max-steps-per-epoch", "1", "--run-dir", run.path])
    XCTAssertEqual(trained.status, 0, trained.err)
    for (file, value) in [("weights.safetensors", Float.nan), ("checkpoint.safetensors", .infinity)] {
      let url = run.appendingPathComponent(file)
      try poison(url, tensor: "classifier.weight", with: value)
      let tested = try runDarts(["test", "--checkpoint", url.path, "--limit", "16", "--batch-size", "8"])
      XCTAssertNotEqual(tested.status, 0, tested.out)
      XCTAssertFalse(tested.out.contains("top-1"), tested.out)
      XCTAssertEqual(tested.err, "error: \(url.path): tensor classifier.weight holds a NaN or an infinity\n")
    }
    // Nor does a run resume from (or start with) them.
    let resumed = try runDarts(["train", "--resume", run.path])
    XCTAssertNotEqual(resumed.status, 0)
    XCTAssertEqual(resumed.err, "error: \(run.appendingPathComponent("checkpoint.safetensors").path): tensor classifier.weight holds a NaN or an infinity\n")
    let weights = run.appendingPathComponent("weights.safetensors")
    let started = try runDarts(train + ["--init-from", weights.path, "--run-dir", run.path + "-2"])
    XCTAssertNotEqual(started.status, 0)
    XCTAssert(started.err.contains("\(weights.path): tensor classifier.weight holds a NaN or an infinity"), started.err)
    XCTAssertFalse(FileManager.default.fileExists(atPath: run.path + "-2"))
  }

  /// The step and quantity of a stopped run, and the checkpoint it names: that checkpoint
  /// exists and is finite, or the run says none was written.
  func assertStoppedWithAFiniteCheckpoint(_ result: (status: Int32, out: String, err: String), run: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertNotEqual(result.status, 0, file: file, line: line)
    let lines = result.err.split(separator: "\n")
    XCTAssertEqual(lines.count, 1, result.err, file: file, line: line)
    let message = String(lines.first ?? "")
    XCTAssert(message.range(of: #"^error: epoch \d+ (step \d+|evaluation|test split): .* is (not finite|-?nan|-?inf); "#, options: .regularExpression) != nil, message, file: file, line: line)
    let checkpoint = run.appendingPathComponent("checkpoint.safetensors")
    if FileManager.default.fileExists(atPath: checkpoint.path) {
      XCTAssert(message.hasSuffix("; the last good checkpoint is \(checkpoint.path)"), message, file: file, line: line)
      XCTAssertEqual(try nonFiniteTensors(in: checkpoint), [], file: file, line: line)
    } else {
      XCTAssert(message.hasSuffix("; no checkpoint was written yet"), message, file: file, line: line)
    }
  }

  func testDivergingSearchStopsAtTheStepWithAFiniteCheckpoint() throws {
    // lr 1e6: activations overflow the BN variance (the loss stays finite, the batch is
    // normalised by ∞); on main the run ended with exit 0 and running_var = inf in its checkpoint.
    // In 3 steps an epoch, the α-split evaluation loss is the first NaN instead.
    let cases: [(arguments: [String], message: String)] = [
      (["--learning-rate", "1e6", "--max-steps-per-epoch", "8"], #"^error: epoch 0 step \d+: after the step, tensor \S+\.running_var is not finite; the last good"#),
      (["--learning-rate", "1e6"], #"^error: epoch 0 evaluation: the architecture-split loss is -?nan; the last good"#),
      // Weight decay 1e30 at lr 1e30 sends the weights to ∞ in the first update.
      (["--learning-rate", "1e30", "--weight-decay", "1e30"], #"^error: epoch 0 step 0: after the step, tensor \S+ is not finite; no checkpoint was written yet$"#),
    ]
    for (arguments, message) in cases {
      let run = try temporaryDirectory().appendingPathComponent("run")
      let result = try runDarts(search + arguments + ["--run-dir", run.path])
      try assertStoppedWithAFiniteCheckpoint(result, run: run)
      XCTAssert(result.err.range(of: message, options: .regularExpression) != nil, result.err)
      XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("genotype.json").path), "no genotype of a diverged search")
    }
  }

  func testDivergingTrainingStopsAtTheStepWithAFiniteCheckpoint() throws {
    // On main: a checkpoint with running_var = inf named as the last good one (lr 1e6), one
    // with infinite weights (weight decay 1e30 at lr 1e30, checkpointed after the first step),
    // and without step checkpoints a checkpoint that did not exist.
    let cases: [(arguments: [String], message: String)] = [
      (["--learning-rate", "1e6", "--max-steps-per-epoch", "8"], #"^error: epoch 0 step \d+: after the step, tensor \S+\.running_var is not finite; the last good"#),
      (["--learning-rate", "1e30", "--weight-decay", "1e30"], #"^error: epoch 0 step 0: after the step, tensor \S+ is not finite; no checkpoint was written yet$"#),
      (["--learning-rate", "1e30", "--weight-decay", "1e30", "--checkpoint-every", "2"], #"^error: epoch 0 step 0: after the step, tensor \S+ is not finite; no checkpoint was written yet$"#),
    ]
    for (arguments, message) in cases {
      let run = try temporaryDirectory().appendingPathComponent("run")
      let result = try runDarts(train + arguments + ["--run-dir", run.path])
      try assertStoppedWithAFiniteCheckpoint(result, run: run)
      XCTAssert(result.err.range(of: message, options: .regularExpression) != nil, result.err)
      let weights = run.appendingPathComponent("weights.safetensors")
      if FileManager.default.fileExists(atPath: weights.path) { XCTAssertEqual(try nonFiniteTensors(in: weights), []) }
    }
  }

  func testNaNSettingsAreRejectedUpFront() throws {
    let root = try temporaryDirectory()
    for (command, flag) in [(search, "--learning-rate"), (search, "--momentum"), (train, "--learning-rate"), (train, "--auxiliary-weight")] {
      let run = root.appendingPathComponent("run")
      let result = try runDarts(command + [flag, "nan", "--run-dir", run.path])
      XCTAssertNotEqual(result.status, 0)
      XCTAssert(result.err.contains("\(flag) must be finite, got nan"), result.err)
      XCTAssertFalse(FileManager.default.fileExists(atPath: run.path))
    }
    // The same settings in config.json, read on --resume.
    for command in [search, train] {
      let run = root.appendingPathComponent("\(command[0])-run")
      let ran = try runDarts(command + ["--epochs", "1", "--max-steps-per-epoch", "1", "--run-dir", run.path])
      XCTAssertEqual(ran.status, 0, ran.err)
      let config = run.appendingPathComponent("config.json")
      let text = try String(contentsOf: config, encoding: .utf8)
      let edited = text.replacingOccurrences(of: #""learningRate" *: *[0-9.e-]+"#, with: #""learningRate" : "NaN""#, options: .regularExpression)
      XCTAssertNotEqual(edited, text)
      try edited.write(to: config, atomically: true, encoding: .utf8)
      let resumed = try runDarts([command[0], "--resume", run.path])
      XCTAssertNotEqual(resumed.status, 0)
      XCTAssertEqual(resumed.err, "error: \(config.path): --learning-rate must be finite, got nan\n")
    }
  }
}
