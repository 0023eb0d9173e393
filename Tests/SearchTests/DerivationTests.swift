import NN
import Search
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// Genotype derivation rules (SPEC §3.2, §5.3) on constructed weights.
final class DerivationTests: XCTestCase {
  let space = Array(repeating: Primitive.searchSpace, count: 14)

  /// Uniform low weights with chosen entries raised: `(edge, primitive, value)`.
  func weights(_ raised: [(Int, Primitive, Float)], base: Float = 0.1) -> [[Float]] {
    var w = Array(repeating: Array(repeating: base, count: 8), count: 14)
    for (edge, primitive, value) in raised { w[edge][Primitive.searchSpace.firstIndex(of: primitive)!] = value }
    return w
  }

  func testStrongestEdgesFirstAndNoneExcluded() {
    let w = weights([
      (0, .sepConv3x3, 0.3), (1, .maxPool3x3, 0.5),  // node 2: edge 1 (source 1) is stronger
      (2, .none, 0.9), (3, .dilConv5x5, 0.4), (4, .skipConnect, 0.6),  // node 3: none ignored on e2
      (5, .avgPool3x3, 0.2), (6, .sepConv5x5, 0.25), (8, .dilConv3x3, 0.7),
      (11, .sepConv3x3, 0.8), (13, .sepConv5x5, 0.81),
    ])
    let edges = GenotypeDerivation.cell(weights: w, primitives: space)
    XCTAssertEqual(edges, [
      .init(.maxPool3x3, 1), .init(.sepConv3x3, 0),
      .init(.skipConnect, 2), .init(.dilConv5x5, 1),
      .init(.dilConv3x3, 3), .init(.sepConv5x5, 1),
      .init(.sepConv5x5, 4), .init(.sepConv3x3, 2),
    ])
  }

  func testTiesKeepTheLowerSourceAndTheFirstOperation() {
    // Node 2 and node 5: all edges equal; within an edge all operations equal.
    let w = Array(repeating: Array(repeating: Float(0.125), count: 8), count: 14)
    let edges = GenotypeDerivation.cell(weights: w, primitives: space)
    XCTAssertEqual(edges.map(\.input), [0, 1, 0, 1, 0, 1, 0, 1])
    XCTAssert(edges.allSatisfy { $0.operation == .maxPool3x3 }, "first non-none operation wins ties")
  }

  func testEdgeWeightsRescaleEdgeStrengthButNotTheOperation() {
    let w = weights([(0, .sepConv3x3, 0.5), (1, .dilConv3x3, 0.4)])
    var beta = Array(repeating: Float(1), count: 14)
    beta[0] = 0.2
    let edges = GenotypeDerivation.cell(weights: w, primitives: space, edgeWeights: beta)
    XCTAssertEqual(Array(edges.prefix(2)), [.init(.dilConv3x3, 1), .init(.sepConv3x3, 0)])
  }

  func testPerEdgePrimitiveSubsets() {
    // P-DARTS-style pruned edges: weights follow each edge's own primitive list.
    var primitives = space
    primitives[0] = [.none, .skipConnect, .sepConv3x3]
    primitives[1] = [.avgPool3x3, .dilConv5x5, .sepConv5x5]
    var w = weights([])
    w[0] = [0.6, 0.1, 0.3]
    w[1] = [0.2, 0.5, 0.3]
    let edges = GenotypeDerivation.cell(weights: w, primitives: primitives)
    XCTAssertEqual(Array(edges.prefix(2)), [.init(.dilConv5x5, 1), .init(.sepConv3x3, 0)])
  }
}

/// First-order architecture gradient against central finite differences on a tiny supernet.
final class ArchitectureGradientTests: XCTestCase {
  func testFirstOrderAlphaGradientMatchesFiniteDifferences() throws {
    let backend = CPUBackend(threads: 2)
    var factory = ParameterFactory(backend: backend, seed: 5)
    let net = SearchNetwork(SearchNetworkConfiguration(channels: 4, layers: 3, classes: 5), using: &factory)
    var generator = SeededGenerator(seed: 9)
    let x = Tensor.randomNormal([4, 3, 8, 8], generator: &generator, on: backend)
    let labels = [0, 3, 1, 4]
    func loss() -> Tensor { net(x).crossEntropy(labels: labels) }
    try assertGradientsMatchFiniteDifferences(of: loss, wrt: net.architectureParameters, in: net, every: 5, step: { _ in 1e-2 })
  }
}
