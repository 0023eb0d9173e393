import Foundation
import XCTest

/// `darts bench train --profile` and `darts bench search --profile`: after the step's usual
/// line, where its time goes per class of kernel, as a table or as JSON lines.
final class BenchProfileCLITests: XCTestCase {
  let tinyTrain = ["bench", "train", "--profile", "--batch", "2", "--channels", "4", "--layers", "3", "--steps", "1"]

  /// The classes every DARTS_V2 training step calls (a 3×3 stem, separable and dilated
  /// convolutions, factorized reductions, the auxiliary head's convolutions, pooling, BN,
  /// the classifiers, SGD, running statistics).
  let trainingClasses = [
    "conv fwd 1x1", "conv fwd depthwise", "conv fwd dense", "conv bwd-input 1x1", "conv bwd-input depthwise",
    "conv bwd-input dense", "conv bwd-weight 1x1", "conv bwd-weight depthwise", "conv bwd-weight dense", "matmul",
    "bn statistics", "bn coefficients", "bn channel affine", "bn backward", "max pool fwd", "max pool bwd", "avg pool fwd",
    "avg pool bwd", "relu", "relu bwd", "sgd", "running average", "upload", "host read", "allocate",
  ]

  func testBenchTrainProfilePrintsTheTable() throws {
    let result = try runDarts(tinyTrain)
    XCTAssertEqual(result.status, 0, result.err)
    let lines = result.out.split(separator: "\n").map(String.init)
    XCTAssertGreaterThan(lines.count, 3, result.out)
    XCTAssert(lines[0].hasPrefix("swift") && lines[0].contains("train DARTS_V2 C=4 L=3"), "the unprofiled result first: \(lines[0])")
    XCTAssert(lines[1].hasPrefix("profile  train DARTS_V2 C=4 L=3  batch 2  threads 2  1 step: "), lines[1])
    XCTAssert(lines[1].contains("ms/step profiled") && lines[1].contains("unprofiled"), lines[1])
    for column in ["class", "calls/step", "ms/step", "share", "GFLOP", "GB", "rate"] { XCTAssert(lines[2].contains(column), lines[2]) }
    var rows: [String: String] = [:]
    for line in lines.dropFirst(3) { rows[line.prefix(36).trimmingCharacters(in: .whitespaces)] = line }
    let families = [
      "convolution", "matrix multiply", "batch norm", "pooling", "element-wise", "weighted sums", "copies and slices", "reductions",
      "optimiser", "host transfers", "allocation", "autodiff bookkeeping and the rest", "step",
    ]
    for name in families + trainingClasses.filter({ $0 != "matmul" && $0 != "allocate" }) {
      XCTAssertNotNil(rows[name], "\(name) in\n\(result.out)")
    }
    XCTAssert(rows["conv fwd dense"]?.hasSuffix("GFLOP/s") == true, rows["conv fwd dense"] ?? "")
    XCTAssert(rows["bn backward"]?.hasSuffix("GB/s") == true, rows["bn backward"] ?? "")
    XCTAssert(rows["step"]?.contains("100.0%") == true, rows["step"] ?? "")
    XCTAssertEqual(lines.last.map { $0.hasPrefix("step") }, true)
  }

  /// With `--json`: one object per class the step called (calls, ms, share, GFLOP, GB and its
  /// rate), then the rest and the step; the classes' times and the rest add up to the step's.
  func testBenchProfileJSONLinesAddUpToTheStep() throws {
    let train = try profileObjects(tinyTrain + ["--json"])
    for name in trainingClasses { XCTAssertGreaterThan(train.classes[name]?["calls"] as? Double ?? 0, 0, name) }
    XCTAssertNotNil(train.classes["conv fwd dense"]?["gflops"])
    XCTAssertNotNil(train.classes["bn statistics"]?["gbps"])
    XCTAssertEqual(train.classes["conv fwd dense"]?["family"] as? String, "convolution")

    let search = try profileObjects(["bench", "search", "--method", "darts", "--channels", "4", "--layers", "3", "--batch", "2", "--steps", "1", "--profile", "--json"])
    for name in ["strided weighted sum", "strided weighted sum bwd", "adam", "sgd", "conv bwd-weight depthwise"] {
      XCTAssertGreaterThan(search.classes[name]?["calls"] as? Double ?? 0, 0, name)
    }

    let refused = try runDarts(["bench", "search", "--method", "pc-darts", "--beside-darts", "--profile"])
    XCTAssertNotEqual(refused.status, 0)
    XCTAssert(refused.err.contains("--profile takes neither --ranks nor --beside-darts"), refused.err)
  }

  /// Runs `arguments` and checks the profile's JSON lines: the classes by name, after checking
  /// that their times and the rest sum to the step's and their FLOPs and bytes to its totals.
  private func profileObjects(_ arguments: [String]) throws -> (classes: [String: [String: Any]], step: [String: Any]) {
    let result = try runDarts(arguments)
    XCTAssertEqual(result.status, 0, result.err)
    let objects = try result.out.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    XCTAssertNotNil(objects.first?["median_ms"], "the unprofiled result first")
    let profile = objects.filter { $0["profile"] != nil }
    let step = try XCTUnwrap(profile.last)
    let rest = try XCTUnwrap(profile.dropLast().last)
    XCTAssertEqual(step["class"] as? String, "step")
    XCTAssertEqual(rest["class"] as? String, "autodiff bookkeeping and the rest")
    let classes = Array(profile.dropLast(2))
    func total(_ key: String) -> Double { classes.reduce(0) { $0 + ($1[key] as? Double ?? 0) } }
    let stepMs = try XCTUnwrap(step["ms"] as? Double)
    let restMs = try XCTUnwrap(rest["ms"] as? Double)
    XCTAssertGreaterThanOrEqual(restMs, 0, "the tallied time lies inside the step's")
    XCTAssertEqual(total("ms") + restMs, stepMs, accuracy: 1e-9 * stepMs)
    XCTAssertEqual(total("gflop"), step["gflop"] as? Double ?? 0, accuracy: 1e-9)
    XCTAssertEqual(total("gb"), step["gb"] as? Double ?? 0, accuracy: 1e-9)
    XCTAssertGreaterThan(step["gflop"] as? Double ?? 0, 0)
    XCTAssertNotNil(step["unprofiled_ms"] as? Double)
    XCTAssertEqual(step["steps"] as? Int, 1)
    return (Dictionary(uniqueKeysWithValues: classes.map { ($0["class"] as? String ?? "", $0) }), step)
  }
}
