import NN
import SearchSpace
import TensorCore
import XCTest

/// The search spaces of `--space` (SPEC-ROBUST, search-space caveat; RobustDARTS `spaces.py`)
/// and S4's `noise` operation.
final class OperationSpaceTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func testEverySpaceHasItsOperationsOnEveryEdge() throws {
    let expected: [OperationSpace: [Primitive]] = [
      .darts: Primitive.searchSpace,
      .dartsNoNone: [.maxPool3x3, .avgPool3x3, .skipConnect, .sepConv3x3, .sepConv5x5, .dilConv3x3, .dilConv5x5],
      .s2: [.skipConnect, .sepConv3x3], .s3: [.none, .skipConnect, .sepConv3x3], .s4: [.noise, .sepConv3x3],
    ]
    for (space, operations) in expected {
      for edges in [5, 14] {
        for reduction in [false, true] {
          XCTAssertEqual(space.operations(edges: edges, reduction: reduction), Array(repeating: operations, count: edges), "\(space)")
        }
      }
      XCTAssertEqual(space.operationCount, operations.count, "\(space)")
      XCTAssertNil(space.edgeCount)
    }
    XCTAssertEqual(OperationSpace.allCases.map(\.rawValue), ["darts", "darts-no-none", "s1", "s2", "s3", "s4"])
  }

  /// `primitives_1` of RobustDARTS, spot-checked edge by edge and in aggregate.
  func testS1IsTheFixedPairTableForFourteenEdges() throws {
    XCTAssertEqual(OperationSpace.s1.edgeCount, 14)
    XCTAssertEqual(OperationSpace.s1.operationCount, 2)
    XCTAssertNil(OperationSpace.s1.operations(edges: 9, reduction: false), "no table for 3-node cells")
    let normal = try XCTUnwrap(OperationSpace.s1.operations(edges: 14, reduction: false))
    let reduce = try XCTUnwrap(OperationSpace.s1.operations(edges: 14, reduction: true))
    XCTAssertEqual(normal[0], [.skipConnect, .dilConv3x3])
    XCTAssertEqual(normal[5], [.maxPool3x3, .skipConnect])
    XCTAssertEqual(normal[13], [.dilConv3x3, .dilConv5x5])
    XCTAssertEqual(reduce[0], [.maxPool3x3, .avgPool3x3])
    XCTAssertEqual(reduce[1], [.maxPool3x3, .dilConv3x3])
    XCTAssertEqual(reduce[6], [.maxPool3x3, .sepConv3x3])
    XCTAssertEqual(reduce[13], [.skipConnect, .dilConv5x5])
    // The normal cell offers skip_connect on 12 of its 14 edges, the reduction cell on 6.
    XCTAssertEqual(normal.filter { $0.contains(.skipConnect) }.count, 12)
    XCTAssertEqual(reduce.filter { $0.contains(.skipConnect) }.count, 6)
    XCTAssertEqual(reduce.filter { $0 == [.maxPool3x3, .avgPool3x3] }.count, 6)
    XCTAssert((normal + reduce).allSatisfy { Set($0).count == 2 && !$0.contains(.none) })
  }

  func testParameterFreeOperations() {
    XCTAssertEqual(Primitive.allCases.filter(\.isParameterFree), [.none, .maxPool3x3, .avgPool3x3, .skipConnect, .noise])
  }

  func testNoiseIsFreshStandardNormalOfTheSubsampledShapeAndSeeded() {
    var generator = SeededGenerator(seed: 4)
    let x = Tensor.randomNormal([2, 3, 7, 7], generator: &generator, on: backend)
    let strided = GaussianNoise(stride: 2, generator: SeededGenerator(seed: 9))
    XCTAssertEqual(strided(x).shape, [2, 3, 4, 4], "the shape of x[:, :, ::2, ::2]")
    let a = GaussianNoise(stride: 1, generator: SeededGenerator(seed: 9))
    let b = GaussianNoise(stride: 1, generator: SeededGenerator(seed: 9))
    let first = a(x).scalars
    XCTAssertEqual(first, b(x * 5).scalars, "the same seed gives the same noise, whatever the input")
    XCTAssertNotEqual(first, a(x).scalars, "each call draws fresh values")
    // 12,000 draws: mean 0 and variance 1 within ~5 standard errors.
    let large = GaussianNoise(stride: 1, generator: SeededGenerator(seed: 10))(Tensor.zeros([10, 12, 10, 10], on: backend)).scalars
    let mean = large.reduce(0, +) / Float(large.count)
    let variance = large.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(large.count)
    XCTAssertEqual(mean, 0, accuracy: 0.05)
    XCTAssertEqual(variance, 1, accuracy: 0.07)
    XCTAssertEqual(a.parameterCount(.weight), 0)
  }
}
