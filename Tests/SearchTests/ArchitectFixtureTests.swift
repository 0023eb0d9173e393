import NN
import Search
import TensorCore
import XCTest
import _TestSupport

/// The architect against the PyTorch reference procedure (SPEC §2.5) on a tiny supernet
/// (C = 4, 3 cells, 8×8 inputs): the same weights, momentum buffers, α and batches give the
/// same first- and second-order α gradients (fixture by Scripts/reference/make_architect_fixture.py).
final class ArchitectFixtureTests: XCTestCase {
  func testFirstAndSecondOrderAlphaGradientsMatchPyTorch() throws {
    let fixture = try Fixture("architect", in: .module).root
    let backend = CPUBackend(threads: 2)
    let network = try fixtureNetwork(fixture, architecture: fixture, architectureNames: ["alphas_normal", "alphas_reduce"], on: backend)

    var sgd = SGD(learningRate: Float(fixture.number("lr")), momentum: Float(fixture.number("momentum")), weightDecay: Float(fixture.number("weight_decay")))
    let buffers = fixture.object("momentum_buffers")
    for name in buffers.keys { sgd.momentumBuffers[name] = buffers.tensor(name, on: backend) }
    let train = LabelledBatch(images: fixture.tensor("x_train", on: backend), labels: fixture.ints("y_train"))
    let valid = LabelledBatch(images: fixture.tensor("x_valid", on: backend), labels: fixture.ints("y_valid"))
    let gradient: BatchGradient = { batch, wrt in gradients(of: network(batch.images).crossEntropy(labels: batch.labels), wrt: wrt) }

    for (order, key, atol) in [(Architect.Order.first, "first_order", Float(2e-6)), (.second, "second_order", 3e-5)] {
      let snapshot = network.stateDict()
      let g = try Architect(order: order).architectureGradients(
        network: network, architecture: network.architectureParameters, train: train, valid: valid,
        weightOptimizer: sgd, gradient: gradient)
      let expected = fixture.object(key)
      assertClose(g[0].scalars, expected.tensor("alphas_normal", on: backend).scalars, rtol: 1e-3, atol: atol, "\(key) normal")
      assertClose(g[1].scalars, expected.tensor("alphas_reduce", on: backend).scalars, rtol: 1e-3, atol: atol, "\(key) reduce")
      // Weights are back where they were (restored from saved values, not by arithmetic).
      let after = network.stateDict()
      for name in network.namedParameters(.weight).map(\.name) {
        XCTAssertEqual(after[name]!.scalars, snapshot[name]!.scalars, "\(name) restored")
      }
      try network.update(parameters: snapshot)
    }
  }
}
