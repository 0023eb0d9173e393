import Datasets
import NN
import Search
import SearchSpace
import TensorCore
import XCTest

/// `--space` in the search: the supernet of each space, derivation on S1's per-edge pairs,
/// S4's seeded noise, and how P-DARTS treats spaces (SPEC-ROBUST, search-space caveat).
final class OperationSpaceSearchTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func settings(_ space: OperationSpace, method: SearchSettings.Method = .darts) -> SearchSettings {
    var s = SearchSettings.reference(for: method)
    s.space = space
    return s
  }

  func network(_ configuration: SearchNetworkConfiguration) -> SearchNetwork {
    var factory = ParameterFactory(backend: backend, seed: 5)
    return SearchNetwork(configuration, using: &factory)
  }

  func testEachSpaceShapesTheSupernetAndItsAlphas() throws {
    for space in OperationSpace.allCases {
      var configuration = settings(space).networkConfiguration(inputChannels: 1, classes: 10)
      configuration.channels = 4
      configuration.layers = 3
      XCTAssertEqual(configuration.normalOperations, space.operations(edges: 14, reduction: false), "\(space)")
      XCTAssertEqual(configuration.reduceOperations, space.operations(edges: 14, reduction: true), "\(space)")
      let net = network(configuration)
      XCTAssertEqual(net.alphasNormal.value.shape, [14, space.operationCount], "\(space)")
      XCTAssertEqual(net.alphasReduce.value.shape, [14, space.operationCount], "\(space)")
      XCTAssertEqual(net.modules().contains { $0 is GaussianNoise }, space == .s4, "\(space)")
    }
    XCTAssertEqual(SearchSettings().space, .darts)
  }

  func testS1GenotypesNameEachEdgesOwnOperations() throws {
    var configuration = settings(.s1).networkConfiguration(inputChannels: 1, classes: 10)
    configuration.channels = 4
    configuration.layers = 3
    let net = network(configuration)
    let topology = configuration.topology
    for winner in [0, 1] {
      // Column `winner` strongest on every edge, by a margin that grows with the edge index.
      func alphas() -> Tensor {
        Tensor(shape: [14, 2], scalars: (1...14).flatMap { e in winner == 0 ? [Float(e), 0] : [0, Float(e)] }, on: backend)
      }
      try net.update(parameters: ["alphas_normal": alphas(), "alphas_reduce": alphas()])
      let genotype = GenotypeDerivation.genotype(of: net)
      let normal = try XCTUnwrap(OperationSpace.s1.operations(edges: 14, reduction: false))
      let reduce = try XCTUnwrap(OperationSpace.s1.operations(edges: 14, reduction: true))
      for (cell, table) in [(genotype.normal, normal), (genotype.reduce, reduce)] {
        for (i, edge) in cell.enumerated() {
          let index = topology.edges(ofStep: i / 2).lowerBound + edge.input
          XCTAssertEqual(edge.operation, table[index][winner], "edge \(index) column \(winner)")
        }
      }
    }
    // Node 5's strongest edges are its last two (sources 4 and 3): normal edges 13 and 12.
    XCTAssertEqual(GenotypeDerivation.genotype(of: net).normal.suffix(2).map(\.operation), [.dilConv5x5, .dilConv5x5])
  }

  func testS4NoiseIsReseededLikeDropout() throws {
    var configuration = settings(.s4).networkConfiguration(inputChannels: 1, classes: 10)
    configuration.channels = 4
    configuration.layers = 3
    let net = network(configuration)
    let noise = net.modules().compactMap { $0 as? any RandomLayer }
    XCTAssertEqual(noise.count, 3 * 14, "one noise operation per edge of every cell")
    var generator = SeededGenerator(seed: 1)
    let images = Tensor.randomNormal([2, 1, 8, 8], generator: &generator, on: backend)
    func forward(seed: UInt64) -> [Float] {
      var g = SeededGenerator(seed: seed)
      for layer in noise { layer.generator = g.split() }
      return withoutGradients { net(images) }.scalars
    }
    XCTAssertEqual(forward(seed: 3), forward(seed: 3))
    XCTAssertNotEqual(forward(seed: 3), forward(seed: 4))
  }

  func testSpaceProblems() {
    var s = settings(.s1)
    s.nodes = 3
    XCTAssertEqual(s.validationProblem(), "--space s1 is defined for cells of 4 nodes (14 edges), not --nodes 3")
    s.space = .s2
    XCTAssertNil(s.validationProblem())
    for space in [OperationSpace.s1, .s2, .s3, .s4] {
      XCTAssertEqual(
        settings(space, method: .pDarts).validationProblem(),
        "--method p-darts keeps 5 operations per edge after its first stage, but --space \(space.rawValue) has \(space.operationCount): use --space darts or darts-no-none")
    }
    XCTAssertNil(settings(.dartsNoNone, method: .pcDarts).validationProblem())
  }

  /// P-DARTS on the DARTS space without `none`: 7 → 5 → 3 → 1 operations, the stage state
  /// checked against 7 on the first stage.
  func testPDARTSWithoutNoneDropsFromSeven() throws {
    let s = settings(.dartsNoNone, method: .pDarts)
    XCTAssertNil(s.validationProblem())
    let strategy = s.strategy
    var base = s.networkConfiguration(inputChannels: 1, classes: 10)
    base.channels = 4
    base.layers = 3
    let stages = try XCTUnwrap(strategy.initialStages(all: base))
    XCTAssertNil(strategy.stagesProblem(stages, position: BatchPosition(epoch: 0, step: 0), topology: base.topology))
    XCTAssertEqual(strategy.memoryConfigurations(base).map { $0.normalOperations[0].count }, [7, 5, 3])
    XCTAssertFalse(strategy.memoryConfigurations(base)[1].normalOperations[0].contains(.none))
    let net = network(strategy.network(base, stages: stages).configuration)
    let next = try XCTUnwrap(strategy.advance(stages, from: net))
    XCTAssertEqual(next.stage, 1)
    XCTAssert(next.normalOperations.allSatisfy { $0.count == 5 && !$0.contains(.none) })
    XCTAssertNil(strategy.stagesProblem(next, position: BatchPosition(epoch: s.epochs, step: 0), topology: base.topology))
  }
}
