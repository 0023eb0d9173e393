import Foundation
import XCTest
import _TestSupport

/// `darts search --method pc-darts --imagenet` on a folder of tiny generated JPEG/PNG images.
final class ImageNetSearchCLITests: XCTestCase {
  let small = [
    "search", "--method", "pc-darts", "--imagenet", "--image-size", "32", "--batch-size", "4",
    "--init-channels", "4", "--layers", "3", "--epochs", "2", "--arch-warmup-epochs", "1",
    "--max-steps-per-epoch", "2", "--threads", "2",
  ]

  func testShortImageNetSearchOnAnImageFolder() throws {
    let root = try temporaryDirectory()
    let data = root.appendingPathComponent("images")
    try writeImageFolder(at: data.appendingPathComponent("train"), classes: ["n01", "n02", "n03"], imagesPerClass: 10)
    let run = root.appendingPathComponent("run")
    let result = try runDarts(small + [
      "--dataset", "image-folder", "--data", data.path, "--weight-fraction", "0.5", "--arch-fraction", "0.3",
      "--run-dir", run.path,
    ])
    XCTAssertEqual(result.status, 0, result.err)
    let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as! [String: Any]
    XCTAssertEqual(config["stem"] as? String, "imagenet")
    XCTAssertEqual(config["partialChannels"] as? Int, 2)
    XCTAssertEqual(config["dataset"] as? String, "image-folder")
    XCTAssertEqual(config["learningRateWarmupEpochs"] as? Int, 5)
    XCTAssertEqual(config["architectureGradientClip"] as? Double, 5)
    let genotype = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("genotype.json"))) as! [String: Any]
    XCTAssertEqual((genotype["normal"] as! [[Any]]).count, 8)
    let events = try String(contentsOf: run.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n")
      .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    let steps = events.filter { $0["type"] as? String == "step" }
    XCTAssertEqual(steps.count, 4)
    XCTAssertNil(steps[1]["architecture_loss"], "α/β frozen in epoch 0")
    XCTAssertNotNil(steps[3]["architecture_loss"])
    // Batch 4 ≤ 256: no warm-up, the cosine schedule from 0.5.
    XCTAssertEqual(steps[0]["lr"] as? Double, 0.5)
    let epochs = events.filter { $0["type"] as? String == "epoch" }
    XCTAssertEqual(epochs.count, 2)
    XCTAssertNotNil(epochs[0]["valid_accuracy"] as? Double)
  }

  /// Decoding, cropping and the per-class split are functions of the seed and the position, so
  /// a run killed and resumed ends with the same α/β as an uninterrupted one.
  func testResumeAfterKillIsBitIdentical() throws {
    let root = try temporaryDirectory()
    let data = root.appendingPathComponent("images")
    try writeImageFolder(at: data, classes: ["a", "b", "c"], imagesPerClass: 6)
    let arguments = small + ["--data", data.path, "--weight-fraction", "0.5", "--arch-fraction", "0.5", "--checkpoint-every", "1"]
    let (reference, interrupted) = try uninterruptedAndResumedRuns(arguments)
    XCTAssertEqual(
      try Data(contentsOf: reference.appendingPathComponent("architecture.json")),
      try Data(contentsOf: interrupted.appendingPathComponent("architecture.json")))
  }

  func testBadImageFolderInputGivesOneLineErrors() throws {
    let root = try temporaryDirectory()
    var result = try runDarts(small)
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains("--data"), result.err)

    result = try runDarts(["search", "--imagenet"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains("--method pc-darts"), result.err)

    let missing = root.appendingPathComponent("missing")
    result = try runDarts(small + ["--data", missing.path, "--run-dir", root.appendingPathComponent("r1").path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertEqual(result.err, "error: \(missing.path): no such file or directory\n")
    XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("r1").path))

    // A truncated JPEG among the images: the run stops with the file's name.
    let data = root.appendingPathComponent("data")
    try writeImageFolder(at: data, classes: ["a", "b"], imagesPerClass: 2)
    let bad = data.appendingPathComponent("b/1.jpg")
    let bytes = try Data(contentsOf: bad)
    try bytes.prefix(bytes.count / 2).write(to: bad)
    result = try runDarts(small + [
      "--data", data.path, "--weight-fraction", "0.5", "--arch-fraction", "0.5", "--epochs", "1",
      "--run-dir", root.appendingPathComponent("r2").path,
    ])
    XCTAssertNotEqual(result.status, 0)
    let lines = result.err.split(separator: "\n").filter { $0.hasPrefix("error:") }
    XCTAssertEqual(lines.count, 1, result.err)
    XCTAssert(lines.first?.contains("\(bad.path): unreadable image (JPEG: ") ?? false, result.err)
  }
}
