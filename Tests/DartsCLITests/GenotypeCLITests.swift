import Foundation
import XCTest

/// `darts genotype list | show | params` through the binary.
final class GenotypeCLITests: XCTestCase {
  func testListShowAndParams() throws {
    let list = try runDarts(["genotype", "list"])
    XCTAssertEqual(list.status, 0)
    XCTAssert(list.out.split(separator: "\n").contains("DARTS_V2"), list.out)

    let show = try runDarts(["genotype", "show", "DARTS_V2"])
    XCTAssertEqual(show.status, 0)
    XCTAssert(show.out.contains("node 5: skip_connect ← 0, dil_conv_3x3 ← 2"), show.out)
    XCTAssert(show.out.contains("\"normal_concat\""), show.out)

    let params = try runDarts(["genotype", "params", "DARTS_V2"])
    XCTAssertEqual(params.status, 0)
    XCTAssertEqual(params.out.split(separator: "\n"), ["param size = 3.349342MB", "3349342"])
  }

  func testGenotypeFilesAndBadInput() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("genotype-cli-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let good = dir.appendingPathComponent("g.json")
    try Data(#"{"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["sep_conv_3x3", 1], ["skip_connect", 0], ["skip_connect", 0], ["dil_conv_3x3", 2]], "normal_concat": [2, 3, 4, 5], "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["skip_connect", 2], ["max_pool_3x3", 1], ["max_pool_3x3", 0], ["skip_connect", 2], ["skip_connect", 2], ["max_pool_3x3", 1]], "reduce_concat": [2, 3, 4, 5]}"#.utf8).write(to: good)
    let params = try runDarts(["genotype", "params", good.path])
    XCTAssertEqual(params.out.split(separator: "\n").last, "3349342", "the JSON of DARTS_V2 counts the same")
    let bad = dir.appendingPathComponent("bad.json")
    try Data(#"{"normal": []}"#.utf8).write(to: bad)
    let result = try runDarts(["genotype", "show", bad.path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains(bad.path), result.err)
    XCTAssertEqual(result.err.split(separator: "\n").count, 1, result.err)
  }
}

/// `darts genotype params --imagenet | --dataset` and `darts genotype draw`.
final class GenotypeParamsAndDrawCLITests: XCTestCase {
  func testImageNetAndDatasetCounts() throws {
    let imageNet = try runDarts(["genotype", "params", "DARTS_V2", "--imagenet"])
    XCTAssertEqual(imageNet.status, 0, imageNet.err)
    XCTAssertEqual(imageNet.out.split(separator: "\n"), ["param size = 4.718752MB", "4718752"])
    let pdarts = try runDarts(["genotype", "params", "PDARTS", "--imagenet"])
    XCTAssertEqual(pdarts.out.split(separator: "\n").last, "4944352")
    // CIFAR-100: 576 × 90 more classifier weights and 90 more biases than CIFAR-10.
    let cifar100 = try runDarts(["genotype", "params", "DARTS_V2", "--dataset", "cifar100"])
    XCTAssertEqual(cifar100.out.split(separator: "\n").last, "\(3_349_342 + 577 * 90)")
    // Fashion-MNIST: one input channel, 108 × 2 × 9 fewer stem weights.
    let fashion = try runDarts(["genotype", "params", "DARTS_V2", "--dataset", "fashion-mnist"])
    XCTAssertEqual(fashion.out.split(separator: "\n").last, "\(3_349_342 - 108 * 2 * 9)")
    let odd = try runDarts(["genotype", "params", "DARTS_V2", "--imagenet", "--init-channels", "47"])
    XCTAssertNotEqual(odd.status, 0)
    XCTAssert(odd.err.contains("even"), odd.err)
  }

  func testDrawSVGAndDOT() throws {
    let svg = try runDarts(["genotype", "draw", "DARTS_V2"])
    XCTAssertEqual(svg.status, 0, svg.err)
    XCTAssert(svg.out.hasPrefix("<?xml"), svg.out)
    XCTAssert(svg.out.contains(#"class="edge op""#))
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("genotype-draw-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let dotFile = dir.appendingPathComponent("cells.dot")
    let dot = try runDarts(["genotype", "draw", "NASNet", "--output", dotFile.path])
    XCTAssertEqual(dot.status, 0, dot.err)
    XCTAssertEqual(dot.out, "")
    let text = try String(contentsOf: dotFile, encoding: .utf8)
    XCTAssert(text.contains(#""reduce_4" -> "reduce_c_{k}""#), text)
    let forced = try runDarts(["genotype", "draw", "NASNet", "--format", "svg", "--output", dir.appendingPathComponent("x.dot").path])
    XCTAssertEqual(forced.status, 0)
    XCTAssert(try String(contentsOf: dir.appendingPathComponent("x.dot"), encoding: .utf8).hasPrefix("<?xml"))
    let unwritable = try runDarts(["genotype", "draw", "DARTS_V2", "--output", dir.appendingPathComponent("missing/x.svg").path])
    XCTAssertNotEqual(unwritable.status, 0)
    XCTAssertEqual(unwritable.err.split(separator: "\n").count, 1, unwritable.err)
    XCTAssert(unwritable.err.contains("missing/x.svg"), unwritable.err)
  }
}
