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
