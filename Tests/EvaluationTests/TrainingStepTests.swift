import Evaluation
import NN
import SearchSpace
import TensorCore
import XCTest

/// The training step (SPEC §6.1): main plus weighted auxiliary loss, clip over every weight,
/// SGD.
final class TrainingStepTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func testTrainingStepLowersTheLossOnAFixedBatch() throws {
    var factory = ParameterFactory(backend: backend, seed: 3)
    let net = EvaluationNetwork(genotype: .dartsV2, channels: 4, layers: 3, classes: 10, inputChannels: 1, inputSize: 28, auxiliary: true, using: &factory)
    var step = TrainingStep(optimizer: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 3e-4), labelSmoothing: 0.1)
    var data = SeededGenerator(seed: 1)
    let x = Tensor.randomNormal([6, 1, 28, 28], generator: &data, on: backend)
    let labels = [0, 1, 2, 3, 4, 5]
    var generator = SeededGenerator(seed: 4)
    let first = try step(net, images: x, labels: labels, dropPath: 0, generator: &generator)
    XCTAssertNotNil(first.auxiliaryLoss)
    var last = first
    for _ in 0..<8 { last = try step(net, images: x, labels: labels, dropPath: 0, generator: &generator) }
    XCTAssertLessThan(last.loss, first.loss)
    XCTAssertEqual(step.optimizer.momentumBuffers.count, net.namedParameters(.weight).count, "every weight, the auxiliary head included")
  }
}
