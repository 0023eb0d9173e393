import Foundation
import XCTest
import _TestSupport

/// Hostile dataset files through the command line: each run stops before training with one
/// error line naming the file and the real reason.
final class DatasetInputCLITests: XCTestCase {
  /// Runs `darts arguments…` and returns its single `error:` line, after checking that it failed.
  func errorLine(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let result = try runDarts(arguments)
    XCTAssertNotEqual(result.status, 0, file: file, line: line)
    let lines = result.err.split(separator: "\n").filter { $0.hasPrefix("error:") }
    XCTAssertEqual(lines.count, 1, result.err, file: file, line: line)
    return String(lines.first ?? "")
  }

  /// An image folder with one class folder: search and train both say that classification needs
  /// two classes.
  func testSingleClassImageFolder() throws {
    let root = try temporaryDirectory()
    let data = root.appendingPathComponent("images")
    try writeImageFolder(at: data.appendingPathComponent("train"), classes: ["n01"], imagesPerClass: 4, size: 8)
    try writeImageFolder(at: data.appendingPathComponent("val"), classes: ["n01"], imagesPerClass: 2, size: 8)
    let reason = "\(data.appendingPathComponent("train").path): holds a single class folder (n01): classification needs at least 2 classes"
    let search = try errorLine([
      "search", "--method", "pc-darts", "--imagenet", "--image-size", "32", "--batch-size", "4",
      "--init-channels", "4", "--layers", "3", "--epochs", "1", "--max-steps-per-epoch", "1", "--threads", "1",
      "--dataset", "image-folder", "--data", data.path, "--run-dir", root.appendingPathComponent("s").path,
    ])
    XCTAssert(search.contains(reason), search)
    let train = try errorLine([
      "train", "--dataset", "image-folder", "--image-size", "32", "--init-channels", "4", "--layers", "3",
      "--batch-size", "4", "--epochs", "1", "--max-steps-per-epoch", "1", "--threads", "1",
      "--data", data.path, "--run-dir", root.appendingPathComponent("t").path,
    ])
    XCTAssert(train.contains(reason), train)
  }

  /// A gzip bomb in an MNIST directory: 64 MiB of zeros behind a header promising one image
  /// stop at the 800 bytes the header promises.
  func testGzipBombInAnMNISTDirectory() throws {
    let data = try temporaryDirectory()
    try Data([0, 0, 8, 1, 0, 0, 0, 1, 3]).write(to: data.appendingPathComponent("train-labels-idx1-ubyte"))
    let images = data.appendingPathComponent("train-images-idx3-ubyte")
    try Data([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28] + [UInt8](repeating: 0, count: 64 << 20)).write(to: images)
    let gzip = Process()
    gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    gzip.arguments = ["gzip", "-n", "-f", images.path]
    try gzip.run()
    gzip.waitUntilExit()
    XCTAssertEqual(gzip.terminationStatus, 0)
    let line = try errorLine([
      "search", "--dataset", "mnist", "--data", data.path, "--batch-size", "8", "--epochs", "1",
      "--init-channels", "4", "--layers", "3", "--max-steps-per-epoch", "1", "--threads", "1",
      "--run-dir", data.appendingPathComponent("run").path,
    ])
    XCTAssert(line.contains("\(images.path).gz: gzip data inflates past the 800 bytes its IDX header promises"), line)
  }
}
