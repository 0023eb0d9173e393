import Evaluation
import NN
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// Train vs eval behaviour (SPEC §6.1, §11 item 13–14) and the ImageNet macro structure.
final class TrainingBehaviourTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func input(_ shape: [Int], seed: UInt64 = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.randomNormal(shape, generator: &generator, on: backend)
  }

  func cell(_ normal: [Genotype.Edge]) -> EvaluationCell {
    var factory = ParameterFactory(backend: backend, seed: 3)
    let genotype = Genotype(normal: normal, reduce: normal)
    return EvaluationCell(genotype: genotype, previousPrevious: 8, previous: 8, channels: 4, isReduction: false, reductionPrevious: false, using: &factory)
  }

  func testDropPathNeverDropsIdentityOperations() {
    let identities = cell([.init(.skipConnect, 0), .init(.skipConnect, 1), .init(.skipConnect, 2), .init(.skipConnect, 0),
                           .init(.skipConnect, 3), .init(.skipConnect, 1), .init(.skipConnect, 4), .init(.skipConnect, 2)])
    let (s0, s1) = (input([6, 8, 5, 5], seed: 1), input([6, 8, 5, 5], seed: 2))
    var generator = SeededGenerator(seed: 9)
    let plain = withoutGradients { identities(s0, s1, dropPath: 0, generator: &generator) }
    let dropped = withoutGradients { identities(s0, s1, dropPath: 0.9, generator: &generator) }
    XCTAssertEqual(dropped.shape, [6, 16, 5, 5])
    XCTAssertEqual(dropped.scalars, plain.scalars, "identity edges are never dropped, even at p = 0.9")
  }

  func testDropPathZeroesWholeSamplesOfOtherOperationsInTrainingOnly() {
    // Node 2 = sep_conv(c_{k-2}) + max_pool(c_{k-1}); only node 2 is concatenated.
    var factory = ParameterFactory(backend: backend, seed: 3)
    let genotype = Genotype(normal: [.init(.sepConv3x3, 0), .init(.maxPool3x3, 1)], normalConcat: [2], reduce: [.init(.sepConv3x3, 0), .init(.maxPool3x3, 1)], reduceConcat: [2])
    let c = EvaluationCell(genotype: genotype, previousPrevious: 8, previous: 8, channels: 4, isReduction: false, reductionPrevious: false, using: &factory)
    let (s0, s1) = (input([16, 8, 5, 5], seed: 1), input([16, 8, 5, 5], seed: 2))
    var generator = SeededGenerator(seed: 9)
    let dropped = withoutGradients { c(s0, s1, dropPath: 0.999, generator: &generator) }
    // With p ≈ 1 both terms are dropped for almost every sample: whole samples are zero.
    let perSample = dropped.scalars.count / 16
    let zeroSamples = (0..<16).filter { n in dropped.scalars[(n * perSample)..<((n + 1) * perSample)].allSatisfy { $0 == 0 } }
    XCTAssertGreaterThanOrEqual(zeroSamples.count, 14, "pools and convolutions are dropped per sample")

    c.eval()
    let evalPlain = withoutGradients { c(s0, s1, dropPath: 0, generator: &generator) }
    let evalDropped = withoutGradients { c(s0, s1, dropPath: 0.999, generator: &generator) }
    XCTAssertEqual(evalDropped.scalars, evalPlain.scalars, "no drop path in eval mode")
  }

  func testAuxiliaryLogitsOnlyInTrainingModeAndOnlyWithTheHead() {
    var factory = ParameterFactory(backend: backend, seed: 0)
    let x = input([2, 1, 28, 28])
    var generator = SeededGenerator(seed: 5)
    // Fashion-MNIST shapes: 28×28, one channel; the head sees 7×7 and pools 5/2 to 2×2.
    let net = EvaluationNetwork(genotype: .dartsV2, channels: 4, layers: 5, classes: 10, inputChannels: 1, inputSize: 28, auxiliary: true, using: &factory)
    let pool = net.auxiliaryHead!.features.layers[1] as! AvgPool2d
    XCTAssertEqual([pool.kernel, pool.stride], [5, 2])
    let (logits, auxiliary) = withoutGradients { net(x, dropPath: 0.2, generator: &generator) }
    XCTAssertEqual(logits.shape, [2, 10])
    XCTAssertEqual(auxiliary?.shape, [2, 10])
    net.eval()
    let first = withoutGradients { net(x, dropPath: 0.5, generator: &generator) }
    let second = withoutGradients { net(x, dropPath: 0, generator: &generator) }
    XCTAssertNil(first.auxiliary)
    XCTAssertEqual(first.logits.scalars, second.logits.scalars, "eval mode: no drop path, deterministic")

    let without = EvaluationNetwork(genotype: .dartsV2, channels: 4, layers: 5, classes: 10, inputChannels: 1, inputSize: 28, auxiliary: false, using: &factory)
    XCTAssertNil(withoutGradients { without(x, generator: &generator) }.auxiliary)
  }

  func testAuxiliaryPoolingAlwaysYieldsTwoByTwo() {
    var factory = ParameterFactory(backend: backend, seed: 0)
    for (size, kernel, stride) in [(8, 5, 3), (7, 5, 2), (6, 5, 1), (10, 5, 5), (16, 8, 8), (13, 7, 6)] {
      let head = AuxiliaryHead(channels: 3, classes: 2, inputSize: size, using: &factory)
      let pool = head.features.layers[1] as! AvgPool2d
      XCTAssertEqual([pool.kernel, pool.stride], [kernel, stride], "size \(size)")
      XCTAssertEqual((size - kernel) / stride + 1, 2, "size \(size)")
      XCTAssertEqual(withoutGradients { head(input([2, 3, size, size])) }.shape, [2, 2])
    }
  }

  func testImageNetShapesAtEveryCell() {
    var factory = ParameterFactory(backend: backend, seed: 0)
    let net = EvaluationNetwork(genotype: .dartsV2, channels: 8, layers: 14, classes: 7, inputSize: 224, stem: .imageNet, auxiliary: true, using: &factory)
    XCTAssertTrue(net.cells[0].preprocess0 is FactorizedReduce, "ImageNet cell 0 follows a 'reduction'")
    let x = input([1, 3, 224, 224])
    var generator = SeededGenerator(seed: 5)
    var s0 = net.stem(x)
    var s1 = net.stem1!(s0)
    XCTAssertEqual(s0.shape, [1, 8, 56, 56])
    XCTAssertEqual(s1.shape, [1, 8, 28, 28])
    var shapes: [[Int]] = []
    withoutGradients {
      for cell in net.cells {
        (s0, s1) = (s1, cell(s0, s1, dropPath: 0, generator: &generator))
        shapes.append(s1.shape)
      }
    }
    let expected = (0..<14).map { i -> [Int] in
      i < 4 ? [1, 32, 28, 28] : i < 9 ? [1, 64, 14, 14] : [1, 128, 7, 7]
    }
    XCTAssertEqual(shapes, expected)
    XCTAssertEqual(EvaluationNetwork.spatialSizes(stem: .imageNet, layers: 14, inputSize: 224).cells, shapes.map { $0[2] })
    let (logits, auxiliary) = withoutGradients { net(x, dropPath: 0.1, generator: &generator) }
    XCTAssertEqual(logits.shape, [1, 7])
    XCTAssertEqual(auxiliary?.shape, [1, 7])
  }

  func testInputSizeProblems() {
    XCTAssertNil(EvaluationNetwork.inputSizeProblem(stem: .cifar, layers: 20, inputSize: 32, auxiliary: true))
    XCTAssertNil(EvaluationNetwork.inputSizeProblem(stem: .cifar, layers: 20, inputSize: 28, auxiliary: true))
    XCTAssertNil(EvaluationNetwork.inputSizeProblem(stem: .imageNet, layers: 14, inputSize: 224, auxiliary: true))
    XCTAssertNil(EvaluationNetwork.inputSizeProblem(stem: .imageNet, layers: 14, inputSize: 64, auxiliary: false))
    XCTAssertNotNil(EvaluationNetwork.inputSizeProblem(stem: .imageNet, layers: 14, inputSize: 64, auxiliary: true))
    XCTAssertNotNil(EvaluationNetwork.inputSizeProblem(stem: .imageNet, layers: 14, inputSize: 28, auxiliary: false))
    XCTAssertNotNil(EvaluationNetwork.inputSizeProblem(stem: .cifar, layers: 20, inputSize: 30, auxiliary: false))
  }
}
