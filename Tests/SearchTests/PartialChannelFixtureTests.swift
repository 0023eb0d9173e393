import NN
import Search
import TensorCore
import XCTest
import _TestSupport

/// The PC-DARTS supernet against the PyTorch reference (SPEC §5.1–5.2) on a tiny network
/// (C = 8, K = 4, edge normalisation, 3 cells of which 2 reduce, 8×8 inputs): the same
/// weights, α, β and batch give the same logits, loss, α and β gradients, and weight gradients
/// on both paths of a partial-channel edge (fixture by
/// Scripts/reference/make_partial_channel_fixture.py).
final class PartialChannelFixtureTests: XCTestCase {
  func testLogitsAndGradientsMatchPyTorch() throws {
    let fixture = try Fixture("partial_channels", in: .module).root
    let backend = CPUBackend(threads: 2)
    let architecture = fixture.object("architecture")
    let network = try fixtureNetwork(fixture, architecture: architecture, architectureNames: Array(architecture.keys), on: backend)
    let logits = network(fixture.tensor("x", on: backend))
    assertClose(logits.scalars, fixture.tensor("logits", on: backend).scalars, rtol: 1e-4, atol: 1e-5, "logits")
    let loss = logits.crossEntropy(labels: fixture.ints("y"))
    XCTAssertEqual(Double(loss.scalars[0]), fixture.number("loss"), accuracy: 1e-5)

    let byName = Dictionary(uniqueKeysWithValues: network.namedParameters().map { ($0.name, $0.parameter.value) })
    let expectedArchitecture = fixture.object("architecture_gradients")
    let expectedWeights = fixture.object("weight_gradients")
    let names = expectedArchitecture.keys.sorted() + expectedWeights.keys.sorted()
    let grads = gradients(of: loss, wrt: names.map { byName[$0]! })
    for (name, g) in zip(names, grads) {
      let expected = (expectedArchitecture[name] != nil ? expectedArchitecture : expectedWeights).tensor(name, on: backend)
      XCTAssertEqual(g.shape, expected.shape, name)
      assertClose(g.scalars, expected.scalars, rtol: 1e-3, atol: 2e-6, name)
    }
  }
}
