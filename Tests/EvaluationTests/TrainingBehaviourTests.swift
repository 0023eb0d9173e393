import Evaluation
import NN
import SearchSpace
import TensorCore
import XCTest

/// Drop path and the auxiliary head in training and evaluation mode; the training step.
final class TrainingBehaviourTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func network(_ genotype: Genotype, auxiliary: Bool = true) -> EvaluationNetwork {
    var factory = ParameterFactory(backend: backend, seed: 3)
    return EvaluationNetwork(genotype: genotype, channels: 4, layers: 3, classes: 10, inputChannels: 1, inputSize: 28, auxiliary: auxiliary, using: &factory)
  }

  func images(seed: UInt64 = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.randomNormal([6, 1, 28, 28], generator: &generator, on: backend)
  }

  func testAuxiliaryOutputOnlyInTrainingAndEvaluationIsDeterministic() {
    let net = network(.dartsV2)
    var g1 = SeededGenerator(seed: 1)
    var g2 = SeededGenerator(seed: 2)
    let x = images()
    let training = withoutGradients { net(x, dropPath: 0.5, generator: &g1) }
    XCTAssertEqual(training.auxiliary?.shape, [6, 10], "28x28 inputs: the head pools 7x7 to 2x2")
    net.eval()
    let a = withoutGradients { net(x, dropPath: 0.5, generator: &g1) }
    let b = withoutGradients { net(x, dropPath: 0.5, generator: &g2) }
    XCTAssertNil(a.auxiliary)
    XCTAssertEqual(a.logits.scalars, b.logits.scalars, "no drop path in evaluation mode")
  }

  func testDropPathNeverDropsIdentities() {
    let skips = Genotype(
      normal: (0..<8).map { Genotype.Edge(.skipConnect, $0 % 2) },
      reduce: Genotype.dartsV2.reduce)
    var generator = SeededGenerator(seed: 9)
    var factory = ParameterFactory(backend: backend, seed: 3)
    let cell = EvaluationCell(genotype: skips, previousPrevious: 4, previous: 4, channels: 4, isReduction: false, reductionPrevious: false, using: &factory)
    let s = images().reshaped(to: [6, 4, 14, 14])
    let plain = withoutGradients { cell(s, s, dropPath: 0, generator: &generator) }
    let dropped = withoutGradients { cell(s, s, dropPath: 0.9, generator: &generator) }
    XCTAssertEqual(plain.scalars, dropped.scalars)

    let convolutions = Genotype(normal: (0..<8).map { Genotype.Edge(.sepConv3x3, $0 % 2) }, reduce: Genotype.dartsV2.reduce)
    let convCell = EvaluationCell(genotype: convolutions, previousPrevious: 4, previous: 4, channels: 4, isReduction: false, reductionPrevious: false, using: &factory)
    let convPlain = withoutGradients { convCell(s, s, dropPath: 0, generator: &generator) }
    let convDropped = withoutGradients { convCell(s, s, dropPath: 0.5, generator: &generator) }
    XCTAssertNotEqual(convPlain.scalars, convDropped.scalars)
    // Node 2 = h0 + h1; each sample's term is either dropped (0) or scaled by 2.
    let perSample = convPlain.count / 6
    let zeroSamples = (0..<6).filter { n in convDropped.scalars[(n * perSample)..<(n * perSample + 4 * 14 * 14)].allSatisfy { $0 == 0 } }
    XCTAssertLessThan(zeroSamples.count, 6)
  }

  func testTrainingStepLowersTheLossOnAFixedBatch() throws {
    let net = network(.dartsV2)
    var step = TrainingStep(optimizer: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 3e-4), labelSmoothing: 0.1)
    let x = images()
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
