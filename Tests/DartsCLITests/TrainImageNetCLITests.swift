import Foundation
import XCTest
import _TestSupport

/// `darts train` / `darts test` with the ImageNet network on folders of tiny generated
/// JPEG/PNG images (SPEC §6.2): the presets' networks and names, test on the run's weights,
/// exact resume, the CIFAR network on an image folder, and bad input.
final class TrainImageNetCLITests: XCTestCase {
  /// The smallest ImageNet network with an auxiliary head: with L = 3 its head reads cell 2 at
  /// size/32, which must be at least 6, so 192 pixels.
  let small = [
    "train", "--preset", "pcdarts-imagenet", "--dataset", "image-folder", "--image-size", "192",
    "--init-channels", "8", "--layers", "3", "--batch-size", "4", "--epochs", "2", "--max-steps-per-epoch", "2",
    "--threads", "2",
  ]

  /// Three classes, 4 training and 2 test images each (40×40: the crops upsample them).
  func imageFolder() throws -> URL {
    let data = try temporaryDirectory().appendingPathComponent("images")
    try writeImageFolder(at: data.appendingPathComponent("train"), classes: ["n01", "n02", "n03"], imagesPerClass: 4)
    try writeImageFolder(at: data.appendingPathComponent("val"), classes: ["n01", "n02", "n03"], imagesPerClass: 2)
    return data
  }

  /// The JSON header of a safetensors file and the offset of its data.
  func header(_ bytes: Data) throws -> (header: [String: Any], dataOffset: Int) {
    let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    return (try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as? [String: Any]), 8 + length)
  }

  /// The tensor names in a safetensors file's header.
  func tensorNames(_ url: URL) throws -> Set<String> {
    Set(try header(Data(contentsOf: url)).header.keys).subtracting(["__metadata__"])
  }

  func config(_ run: URL) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any])
  }

  func testLine(_ output: String) -> Substring? { output.split(separator: "\n").first { $0.hasPrefix("test:") } }

  func testImageNetPresetsTrainAndTestOnAnImageFolder() throws {
    let data = try imageFolder()
    let root = data.deletingLastPathComponent()
    // PC-DARTS ImageNet: the ImageNet network without the auxiliary BN(768).
    let run = root.appendingPathComponent("pcdarts")
    let trained = try runDarts(small + ["--data", data.path, "--run-dir", run.path])
    XCTAssertEqual(trained.status, 0, trained.err)
    let settings = try config(run)
    XCTAssertEqual(settings["stem"] as? String, "imagenet")
    XCTAssertEqual(settings["auxiliaryFeatureNorm"] as? Bool, false)
    XCTAssertEqual(settings["labelSmoothing"] as? Double, 0.1)
    XCTAssertEqual(settings["imageSize"] as? Int, 192)
    let jitter = try XCTUnwrap(settings["colorJitter"] as? [String: Double])
    XCTAssertEqual(jitter, ["brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.2])
    let names = try tensorNames(run.appendingPathComponent("weights.safetensors"))
    for name in ["stem0.0.weight", "stem0.4.running_mean", "stem1.1.weight", "stem1.2.num_batches_tracked",
                 "cells.0.preprocess0.conv_1.weight", "auxiliary_head.features.5.weight", "auxiliary_head.classifier.weight"] {
      XCTAssert(names.contains(name), name)
    }
    XCTAssertFalse(names.contains("stem.0.weight"))
    XCTAssertFalse(names.contains { $0.hasPrefix("auxiliary_head.features.6") }, "no BN(768) in PC-DARTS")

    // darts test rebuilds the network from the weights and tests on the run's val folder.
    let line = try XCTUnwrap(testLine(trained.out))
    XCTAssert(line.hasSuffix("(6 images)"), String(line))
    for file in ["weights.safetensors", "checkpoint.safetensors"] {
      let tested = try runDarts(["test", "--checkpoint", run.appendingPathComponent(file).path, "--batch-size", "4"])
      XCTAssertEqual(tested.status, 0, tested.err)
      XCTAssertEqual(testLine(tested.out), line, file)
    }

    // --imagenet turns the P-DARTS recipe into its ImageNet one: BN(768) in the auxiliary head.
    let pdarts = root.appendingPathComponent("pdarts")
    let second = try runDarts([
      "train", "--preset", "pdarts", "--imagenet", "--data", data.path, "--image-size", "192", "--init-channels", "8",
      "--layers", "3", "--batch-size", "4", "--epochs", "1", "--max-steps-per-epoch", "1", "--no-color-jitter",
      "--run-dir", pdarts.path,
    ])
    XCTAssertEqual(second.status, 0, second.err)
    XCTAssertEqual(try config(pdarts)["stem"] as? String, "imagenet")
    XCTAssertNil(try config(pdarts)["colorJitter"])
    let pdartsNames = try tensorNames(pdarts.appendingPathComponent("weights.safetensors"))
    for suffix in ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"] {
      XCTAssert(pdartsNames.contains("auxiliary_head.features.6.\(suffix)"), suffix)
    }
  }

  /// The CIFAR network on small images of an image folder, and a weights file with no
  /// description (as exported from PyTorch) tested with the structure read from its names.
  func testCIFARNetworkOnAnImageFolderAndBareWeights() throws {
    let data = try imageFolder()
    let run = data.deletingLastPathComponent().appendingPathComponent("cifar")
    let trained = try runDarts([
      "train", "--preset", "darts", "--dataset", "image-folder", "--data", data.path, "--image-size", "32",
      "--init-channels", "4", "--layers", "3", "--batch-size", "4", "--epochs", "1", "--max-steps-per-epoch", "2",
      "--run-dir", run.path,
    ])
    XCTAssertEqual(trained.status, 0, trained.err)
    let settings = try config(run)
    XCTAssertEqual(settings["stem"] as? String, "cifar")
    XCTAssertEqual(settings["cutout"] as? Int, 0, "cutout does not apply to image folders")
    XCTAssert(try tensorNames(run.appendingPathComponent("weights.safetensors")).contains("stem.0.weight"))
    let line = try XCTUnwrap(testLine(trained.out))
    // Strip the description: darts test must then be told the network.
    let bare = data.deletingLastPathComponent().appendingPathComponent("bare.safetensors")
    try stripMetadata(run.appendingPathComponent("weights.safetensors"), to: bare)
    let tested = try runDarts([
      "test", "--checkpoint", bare.path, "--dataset", "image-folder", "--data", data.path, "--image-size", "32",
      "--init-channels", "4", "--layers", "3",
    ])
    XCTAssertEqual(tested.status, 0, tested.err)
    XCTAssertEqual(testLine(tested.out), line)
  }

  /// A state_dict exported from the PyTorch reference `NetworkImageNet` (`module.` names, no
  /// description): its names select the ImageNet network and an image folder.
  func testPyTorchImageNetExportIsTestedOnAnImageFolder() throws {
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("EvaluationTests/Fixtures/reference_imagenet_weights.safetensors")
    let data = try imageFolder()
    let arguments = ["test", "--checkpoint", fixture.path, "--image-size", "32", "--init-channels", "8", "--layers", "3"]
    let tested = try runDarts(arguments + ["--data", data.path])
    XCTAssertEqual(tested.status, 0, tested.err)
    XCTAssert(testLine(tested.out)?.hasSuffix("(6 images)") ?? false, tested.out)
    let withoutData = try runDarts(arguments)
    XCTAssertNotEqual(withoutData.status, 0)
    XCTAssert(withoutData.err.contains("--dataset image-folder needs --data DIR"), withoutData.err)
    let wrongSize = try runDarts(["test", "--checkpoint", fixture.path, "--data", data.path, "--image-size", "32"])
    XCTAssertNotEqual(wrongSize.status, 0)
    XCTAssert(wrongSize.err.contains(fixture.path), wrongSize.err)
    XCTAssertEqual(wrongSize.err.split(separator: "\n").count, 1, wrongSize.err)
    // 28×28 MNIST-like images give the ImageNet stem an odd 7×7 output.
    let demo = try runDarts(arguments.dropLast(6) + ["--init-channels", "8", "--layers", "3", "--dataset", "demo"])
    XCTAssertNotEqual(demo.status, 0)
    XCTAssert(demo.err.contains("input size 28"), demo.err)
  }

  /// Rewrites a safetensors file without its `__metadata__`.
  func stripMetadata(_ source: URL, to target: URL) throws {
    let bytes = try Data(contentsOf: source)
    var (json, offset) = try header(bytes)
    json["__metadata__"] = nil
    var encoded = try JSONSerialization.data(withJSONObject: json)
    while encoded.count % 8 != 0 { encoded.append(0x20) }
    var out = Data((0..<8).map { UInt8(truncatingIfNeeded: encoded.count >> (8 * $0)) })
    out.append(encoded)
    out.append(bytes.subdata(in: offset..<bytes.count))
    try out.write(to: target)
  }

  /// Decoding, cropping and colour jitter are functions of the seed and the position.
  func testResumeAfterKillIsBitIdentical() throws {
    let data = try imageFolder()
    let (reference, interrupted) = try uninterruptedAndResumedRuns(small + ["--data", data.path, "--checkpoint-every", "1"])
    XCTAssertEqual(
      try Data(contentsOf: reference.appendingPathComponent("weights.safetensors")),
      try Data(contentsOf: interrupted.appendingPathComponent("weights.safetensors")),
      "final weights differ after kill -9 and resume")
  }

  func testBadInputGivesOneLineErrors() throws {
    let root = try temporaryDirectory()
    func failure(_ arguments: [String], mentions text: String, file: StaticString = #filePath, line: UInt = #line) throws {
      let result = try runDarts(arguments)
      XCTAssertNotEqual(result.status, 0, file: file, line: line)
      let errors = result.err.split(separator: "\n").filter { $0.hasPrefix("error:") }
      XCTAssertEqual(errors.count, 1, result.err, file: file, line: line)
      XCTAssert(errors.first?.contains(text) ?? false, result.err, file: file, line: line)
    }
    try failure(small, mentions: "--data")
    let missing = root.appendingPathComponent("missing")
    try failure(small + ["--data", missing.path, "--run-dir", root.appendingPathComponent("r1").path], mentions: missing.path)
    XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("r1").path))
    // Too small for the ImageNet network with its auxiliary head.
    try failure(small + ["--data", root.path, "--image-size", "32"], mentions: "input size 32")
    try failure(small + ["--data", root.path, "--init-channels", "5"], mentions: "even")
    try failure(small + ["--data", root.path, "--cutout", "16"], mentions: "--cutout")
    try failure(["train", "--dataset", "demo", "--image-size", "32"], mentions: "--image-size")

    // No test folder; then a truncated JPEG among the training images.
    let data = root.appendingPathComponent("data")
    try writeImageFolder(at: data.appendingPathComponent("train"), classes: ["a", "b"], imagesPerClass: 2)
    try failure(small + ["--data", data.path, "--run-dir", root.appendingPathComponent("r2").path], mentions: data.appendingPathComponent("val").path)
    try writeImageFolder(at: data.appendingPathComponent("val"), classes: ["a", "b"], imagesPerClass: 1)
    let bad = data.appendingPathComponent("train/b/1.jpg")
    let bytes = try Data(contentsOf: bad)
    try bytes.prefix(bytes.count / 2).write(to: bad)
    try failure(small + ["--data", data.path, "--run-dir", root.appendingPathComponent("r3").path], mentions: "\(bad.path): unreadable image")
  }
}
