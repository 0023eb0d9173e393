import NN
import Search
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// Parameter counts and names against the PyTorch reference networks (SPEC §1.6), shapes at
/// every cell (SPEC §1.4).
final class SearchNetworkTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func network(_ configuration: SearchNetworkConfiguration) -> SearchNetwork {
    var factory = ParameterFactory(backend: backend, seed: 2)
    return SearchNetwork(configuration, using: &factory)
  }

  func testDARTSSearchNetworkHasTheReferenceParameterCount() {
    let net = network(SearchNetworkConfiguration())
    XCTAssertEqual(net.parameterCount(.weight), 1_930_618)
    XCTAssertEqual(net.architectureParameters.map(\.name), ["alphas_normal", "alphas_reduce"])
    XCTAssertEqual(net.architectureParameters.map(\.parameter.value.shape), [[14, 8], [14, 8]])
  }

  func testPCDARTSAndPDARTSParameterCounts() {
    XCTAssertEqual(network(SearchNetworkConfiguration(partialChannels: 4, edgeNormalization: true)).parameterCount(.weight), 299_578)
    XCTAssertEqual(network(SearchNetworkConfiguration(layers: 5)).parameterCount(.weight), 1_275_834)
  }

  /// The PC-DARTS ImageNet search network (SPEC §5.5): counts computed by
  /// `Scripts/reference/darts_reference.py counts` (956,512 for C=16, L=8, K=2, 1000 classes)
  /// and for a small variant.
  func testImageNetSearchNetworkParameterCounts() {
    let full = SearchNetworkConfiguration(classes: 1000, partialChannels: 2, edgeNormalization: true, stem: .imageNet)
    XCTAssertEqual(network(full).parameterCount(.weight), 956_512)
    let small = SearchNetworkConfiguration(channels: 4, layers: 3, classes: 5, partialChannels: 2, edgeNormalization: true, stem: .imageNet)
    XCTAssertEqual(network(small).parameterCount(.weight), 31_267)
  }

  func testImageNetStemNamesAndShapes() {
    let net = network(SearchNetworkConfiguration(classes: 1000, partialChannels: 2, edgeNormalization: true, stem: .imageNet))
    let shapes = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.name, $0.parameter.value.shape) })
    let stemNames = shapes.keys.filter { $0.hasPrefix("stem") }.sorted()
    let bn = ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]
    XCTAssertEqual(
      stemNames,
      (["stem0.0.weight"] + bn.map { "stem0.1.\($0)" } + ["stem0.3.weight"] + bn.map { "stem0.4.\($0)" }
        + ["stem1.1.weight"] + bn.map { "stem1.2.\($0)" }).sorted())
    XCTAssertEqual(shapes["stem0.0.weight"], [24, 3, 3, 3])
    XCTAssertEqual(shapes["stem0.3.weight"], [48, 24, 3, 3])
    XCTAssertEqual(shapes["stem1.1.weight"], [48, 48, 3, 3])
    XCTAssertEqual(shapes["cells.0.preprocess0.conv_1.weight"], [8, 48, 1, 1], "cell 0 reduces stem0's output")
    XCTAssertEqual(shapes["cells.0.preprocess1.op.1.weight"], [16, 48, 1, 1])
    XCTAssertEqual(shapes["cells.0._ops.0._ops.4.op.2.weight"], [8, 8, 1, 1], "ops on C/K = 8 channels")
    XCTAssertEqual(shapes["classifier.weight"], [1000, 256])
    XCTAssertNil(shapes["stem.0.weight"])
  }

  /// 32×32 input: stem0 → 8×8, stem1 → 4×4, cells 2 and 5 reduce to 2×2 and 1×1.
  func testImageNetSearchNetworkForwardShape() {
    let net = network(SearchNetworkConfiguration(channels: 4, layers: 8, classes: 7, partialChannels: 2, edgeNormalization: true, stem: .imageNet))
    var generator = SeededGenerator(seed: 1)
    let x = Tensor.randomNormal([2, 3, 32, 32], generator: &generator, on: backend)
    withoutGradients {
      XCTAssertEqual(net.stem0!(x).shape, [2, 12, 8, 8])
      XCTAssertEqual(net.stem1!(net.stem0!(x)).shape, [2, 12, 4, 4])
      XCTAssertEqual(net(x).shape, [2, 7])
    }
  }

  func testReferenceNames() {
    let names = Set(network(SearchNetworkConfiguration()).namedParameters().map(\.name))
    for expected in [
      "stem.0.weight", "stem.1.weight", "stem.1.bias", "stem.1.running_mean", "stem.1.num_batches_tracked",
      "cells.0.preprocess0.op.1.weight", "cells.0.preprocess0.op.2.running_var",
      "cells.3.preprocess0.conv_1.weight", "cells.3.preprocess0.conv_2.weight", "cells.3.preprocess0.bn.running_mean",
      "cells.0._ops.0._ops.1.1.running_mean", "cells.0._ops.0._ops.4.op.7.running_var",
      "cells.2._ops.0._ops.3.conv_1.weight", "cells.2._ops.0._ops.6.op.1.weight",
      "classifier.weight", "classifier.bias",
    ] {
      XCTAssert(names.contains(expected), "missing \(expected)")
    }
    let shapes = Dictionary(uniqueKeysWithValues: network(SearchNetworkConfiguration()).namedParameters().map { ($0.name, $0.parameter.value.shape) })
    XCTAssertEqual(shapes["cells.2._ops.0._ops.4.op.1.weight"], [32, 1, 3, 3])
    XCTAssertFalse(names.contains { $0.contains("_ops.0._ops.0.") }, "`none` has no entries")
    XCTAssertFalse(names.contains { $0.hasPrefix("cells.0._ops.0._ops.3.") }, "stride-1 skip has no entries")
  }

  func testShapesAtEveryCell() {
    let configuration = SearchNetworkConfiguration(channels: 4, layers: 8)
    let net = network(configuration)
    var generator = SeededGenerator(seed: 1)
    let x = Tensor.randomNormal([2, 3, 32, 32], generator: &generator, on: backend)
    let logits = withoutGradients { net(x) }
    XCTAssertEqual(logits.shape, [2, 10])
    // Cell outputs: 4C channels; C doubles and H halves at cells 2 and 5.
    let expected: [(Int, Int)] = [(16, 32), (16, 32), (32, 16), (32, 16), (32, 16), (64, 8), (64, 8), (64, 8)]
    withoutGradients {
      let w = net.alphasNormal.value.softmax()
      let r = net.alphasReduce.value.softmax()
      var s0 = net.stem!(x)
      XCTAssertEqual(s0.shape, [2, 12, 32, 32])
      var s1 = s0
      for (i, cell) in net.cells.enumerated() {
        let out = cell(s0, s1, weights: cell.isReduction ? r : w, edgeWeights: nil)
        XCTAssertEqual(out.shape, [2, expected[i].0, expected[i].1, expected[i].1], "cell \(i)")
        (s0, s1) = (s1, out)
      }
    }
  }

  func testGrayscaleInputAndPartialChannelsRun() {
    let net = network(SearchNetworkConfiguration(channels: 8, layers: 3, inputChannels: 1, partialChannels: 4, edgeNormalization: true))
    var generator = SeededGenerator(seed: 1)
    let x = Tensor.randomNormal([2, 1, 28, 28], generator: &generator, on: backend)
    let loss = net(x).crossEntropy(labels: [1, 2])
    let grads = gradients(of: loss, wrt: net.architectureParameters.map(\.parameter.value))
    XCTAssertEqual(grads.map(\.shape), [[14, 8], [14, 8], [14], [14]])
    XCTAssert(grads.allSatisfy { $0.scalars.contains { $0 != 0 } })
  }
}
