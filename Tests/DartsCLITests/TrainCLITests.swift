import Foundation
import XCTest

/// `darts train` and `darts test` through the binary: a tiny run on the demo data tested
/// afterwards, exact resume after `kill -9`, and bad input.
final class TrainCLITests: XCTestCase {
  /// A tiny training run on the shipped demo images (a few seconds).
  let tiny = [
    "train", "--limit", "256", "--test-limit", "64", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "3", "--checkpoint-every", "1", "--threads", "2",
  ]

  func events(_ run: URL) throws -> [[String: Any]] {
    try String(contentsOf: run.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n").map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
  }

  func testTrainThenTestOnTheDemoData() throws {
    let run = try temporaryDirectory().appendingPathComponent("run")
    let trained = try runDarts(tiny + ["--run-dir", run.path])
    XCTAssertEqual(trained.status, 0, trained.err)
    for file in ["config.json", "genotype.json", "events.jsonl", "checkpoint.safetensors", "weights.safetensors"] {
      XCTAssert(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), file)
    }
    let objects = try events(run)
    let steps = objects.filter { $0["type"] as? String == "step" }
    XCTAssertEqual(steps.count, 6)
    for key in ["loss", "auxiliary_loss", "accuracy", "lr", "drop_path", "seconds", "peak_memory_bytes"] {
      XCTAssertNotNil(steps[0][key], key)
    }
    let epochs = objects.filter { $0["type"] as? String == "epoch" }
    XCTAssertEqual(epochs.count, 2)
    for key in ["train_loss", "train_accuracy", "test_loss", "test_top1", "test_top5"] { XCTAssertNotNil(epochs[1][key], key) }
    XCTAssertEqual(epochs[0]["drop_path"] as? Double, 0)
    XCTAssertEqual(epochs[1]["drop_path"] as? Double ?? 0, 0.1, accuracy: 1e-12, "0.2 · 1/2 at epoch 1 of 2 (demo preset)")
    XCTAssertEqual(objects.map { $0["event"] as! Int }, Array(0..<objects.count))

    // darts test on the run's weights and on its checkpoint gives the run's last test result.
    let line = try XCTUnwrap(trained.out.split(separator: "\n").first { $0.hasPrefix("test:") })
    for file in ["weights.safetensors", "checkpoint.safetensors"] {
      let tested = try runDarts(["test", "--checkpoint", run.appendingPathComponent(file).path, "--limit", "64", "--batch-size", "16"])
      XCTAssertEqual(tested.status, 0, tested.err)
      XCTAssertEqual(tested.out.split(separator: "\n").first { $0.hasPrefix("test:") }, line, file)
    }
    // Training can start from those weights, here with a validation split.
    let second = URL(fileURLWithPath: run.path + "-2")
    let again = try runDarts(tiny + ["--epochs", "1", "--train-portion", "0.5", "--init-from", run.appendingPathComponent("weights.safetensors").path, "--run-dir", second.path])
    XCTAssertEqual(again.status, 0, again.err)
    let last = try XCTUnwrap(try events(second).last)
    XCTAssertNotNil(last["valid_top1"])
    XCTAssertNotNil(last["test_top1"])
  }

  func testResumeAfterKillIsBitIdentical() throws {
    let (reference, interrupted) = try uninterruptedAndResumedRuns(tiny)
    XCTAssertEqual(
      try Data(contentsOf: reference.appendingPathComponent("weights.safetensors")),
      try Data(contentsOf: interrupted.appendingPathComponent("weights.safetensors")),
      "final weights differ after kill -9 and resume")
    let steps = try events(interrupted).compactMap { $0["type"] as? String == "step" ? $0["global_step"] as? Int : nil }
    XCTAssertEqual(steps, Array(1...6))
  }

  /// A cell with S4's `noise` operation trains and resumes after kill -9 bit-identically (its
  /// noise is keyed by the position, as the drop-path masks are).
  func testNoiseGenotypeResumesBitIdentically() throws {
    let genotype = try temporaryDirectory().appendingPathComponent("noise.json")
    let cell = #"[["noise", 0], ["sep_conv_3x3", 1], ["noise", 1], ["sep_conv_3x3", 2], ["sep_conv_3x3", 0], ["noise", 3], ["noise", 2], ["sep_conv_3x3", 4]]"#
    try Data(#"{"normal": \#(cell), "normal_concat": [2, 3, 4, 5], "reduce": \#(cell), "reduce_concat": [2, 3, 4, 5]}"#.utf8).write(to: genotype)
    let (reference, interrupted) = try uninterruptedAndResumedRuns(tiny + ["--genotype", genotype.path])
    XCTAssertEqual(
      try Data(contentsOf: reference.appendingPathComponent("weights.safetensors")),
      try Data(contentsOf: interrupted.appendingPathComponent("weights.safetensors")),
      "final weights differ after kill -9 and resume")
    let testLoss = { (run: URL) in try self.events(run).compactMap { $0["type"] as? String == "epoch" ? $0["test_loss"] as? Double : nil } }
    XCTAssertEqual(try testLoss(reference).count, 2)
    XCTAssertEqual(try testLoss(reference), try testLoss(interrupted))
  }

  func testBadInputGivesOneLineErrors() throws {
    let root = try temporaryDirectory()
    func failure(_ arguments: [String], mentions text: String, file: StaticString = #filePath, line: UInt = #line) throws {
      let result = try runDarts(arguments)
      XCTAssertNotEqual(result.status, 0, file: file, line: line)
      XCTAssert(result.err.contains(text), result.err, file: file, line: line)
      XCTAssertEqual(result.err.split(separator: "\n").count, 1, result.err, file: file, line: line)
    }
    // An existing, non-empty run directory.
    let existing = root.appendingPathComponent("existing")
    try FileManager.default.createDirectory(at: existing, withIntermediateDirectories: true)
    try Data("x".utf8).write(to: existing.appendingPathComponent("file"))
    try failure(tiny + ["--run-dir", existing.path], mentions: existing.path)
    // A dataset directory without the files: no run directory is left behind.
    try failure(tiny + ["--dataset", "cifar10", "--data", root.path, "--run-dir", root.appendingPathComponent("r2").path], mentions: root.path)
    XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("r2").path))
    // A bad genotype file.
    let genotype = root.appendingPathComponent("genotype.json")
    try Data("{\"normal\": 3}".utf8).write(to: genotype)
    try failure(tiny + ["--genotype", genotype.path, "--run-dir", root.appendingPathComponent("r3").path], mentions: genotype.path)
    // Weights of another network.
    let run = root.appendingPathComponent("run")
    XCTAssertEqual(try runDarts(tiny + ["--run-dir", run.path, "--epochs", "1", "--max-steps-per-epoch", "1"]).status, 0)
    let weights = run.appendingPathComponent("weights.safetensors")
    try failure(tiny + ["--init-channels", "8", "--init-from", weights.path, "--run-dir", root.appendingPathComponent("r4").path], mentions: weights.path)
    try failure(["test", "--checkpoint", weights.path, "--init-channels", "8"], mentions: weights.path)
    try failure(["test", "--checkpoint", root.appendingPathComponent("none.safetensors").path], mentions: "none.safetensors")
    // A corrupt checkpoint.
    let checkpoint = run.appendingPathComponent("checkpoint.safetensors")
    let bytes = try Data(contentsOf: checkpoint)
    try bytes.prefix(bytes.count / 2).write(to: checkpoint)
    try failure(["train", "--resume", run.path], mentions: "checkpoint.safetensors")
    // A diverging run stops at the step with a non-finite loss; its last checkpoint stays a
    // valid file, which `darts test` reads (its weights near 1e30 give a NaN test loss, which
    // is reported as such, not as a result).
    let diverging = root.appendingPathComponent("diverging")
    try failure(tiny + ["--learning-rate", "1e30", "--grad-clip", "1e30", "--run-dir", diverging.path], mentions: "loss")
    let saved = diverging.appendingPathComponent("checkpoint.safetensors")
    if FileManager.default.fileExists(atPath: saved.path) {
      let tested = try runDarts(["test", "--checkpoint", saved.path, "--limit", "16"])
      XCTAssert(tested.status == 0 || tested.err.hasPrefix("error: \(saved.path): the evaluation loss is"), tested.err)
    }
  }

  func testBenchTrainRunsATinyStep() throws {
    let result = try runDarts(["bench", "train", "--channels", "4", "--layers", "3", "--batch", "2", "--steps", "1", "--json"])
    XCTAssertEqual(result.status, 0, result.err)
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
    XCTAssertEqual(object["engine"] as? String, "swift")
    XCTAssertGreaterThan(object["median_ms"] as? Double ?? 0, 0)
    XCTAssertGreaterThan(object["peak_bytes"] as? Int ?? 0, 0)
    let refused = try runDarts(["bench", "train", "--channels", "4", "--pytorch", "/usr/bin/false"])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssert(refused.err.contains("--channels 36 --layers 20"), refused.err)
  }
}
