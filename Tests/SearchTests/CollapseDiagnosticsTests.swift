import Foundation
import NN
import Runs
import Search
import SearchSpace
import TensorCore
import XCTest

/// The per-epoch collapse diagnostics against hand-computed counts and entropies.
final class CollapseDiagnosticsTests: XCTestCase {
  func testCountsAndEntropyOfAHandMadeCell() {
    let edges: [Genotype.Edge] = [
      .init(.skipConnect, 0), .init(.sepConv3x3, 1), .init(.skipConnect, 0), .init(.maxPool3x3, 2),
      .init(.avgPool3x3, 1), .init(.dilConv3x3, 3), .init(.skipConnect, 2), .init(.sepConv5x5, 4),
    ]
    let uniform = [Float](repeating: 1 / 8, count: 8)
    let oneHot: [Float] = [0, 0, 0, 1, 0, 0, 0, 0]
    let cell = CollapseDiagnostics.Cell(edges: edges, weights: [uniform, oneHot])
    XCTAssertEqual(cell.skipConnects, 3)
    XCTAssertEqual(cell.parameterFree, 5, "3 skips, a max pool and an avg pool")
    XCTAssertEqual(cell.meanEntropy, log(8.0) / 2, accuracy: 1e-6, "(ln 8 + 0)/2 = 1.039721")
    XCTAssertEqual(CollapseDiagnostics.Cell.entropy([0.5, 0.5]), 0.693147, accuracy: 1e-6)
    XCTAssertEqual(CollapseDiagnostics.Cell.entropy([0.25, 0.25, 0.5]), 1.039721, accuracy: 1e-6, "1.5 ln 2")
  }

  func testFieldsAndProgressText() {
    let normal = CollapseDiagnostics.Cell(edges: [.init(.skipConnect, 0), .init(.noise, 1)], weights: [[0.5, 0.5]])
    let reduce = CollapseDiagnostics.Cell(edges: [.init(.sepConv3x3, 0), .init(.sepConv3x3, 1)], weights: [[1, 0]])
    let diagnostics = CollapseDiagnostics(normal: normal, reduce: reduce)
    XCTAssertEqual(diagnostics.fields, [
      "normal_skip_connects": .int(1), "normal_parameter_free": .int(2), "normal_alpha_entropy": .double(-log(0.5)),
      "reduce_skip_connects": .int(0), "reduce_parameter_free": .int(0), "reduce_alpha_entropy": .double(0),
    ])
    XCTAssertEqual(diagnostics.text, "  normal skip 1 free 2 H 0.693  reduce skip 0 free 0 H 0.000")
  }

  func testAFreshSupernetIsNearlyUniform() {
    var factory = ParameterFactory(backend: CPUBackend(threads: 2), seed: 2)
    let network = SearchNetwork(SearchNetworkConfiguration(channels: 4, layers: 3, steps: 4, classes: 10), using: &factory)
    let genotype = GenotypeDerivation.genotype(of: network)
    let diagnostics = CollapseDiagnostics(network, genotype: genotype)
    // α = 1e-3·N(0, 1): the entropy is ln 8 less O(1e-6).
    XCTAssertEqual(diagnostics.normal.meanEntropy, log(8.0), accuracy: 1e-4)
    XCTAssertEqual(diagnostics.reduce.meanEntropy, log(8.0), accuracy: 1e-4)
    XCTAssertEqual(diagnostics.normal.skipConnects, genotype.normal.filter { $0.operation == .skipConnect }.count)
    XCTAssertEqual(diagnostics.reduce.parameterFree, genotype.reduce.filter { [.maxPool3x3, .avgPool3x3, .skipConnect].contains($0.operation) }.count)
  }
}
