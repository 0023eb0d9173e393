import Foundation
import NN
import Search
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// DARTS-' auxiliary skip (SPEC-ROBUST §5): the β schedules, the skip as a term of every node
/// outside the softmax (identity on stride-1 edges, a FactorizedReduce on stride-2 edges), its
/// parameters, its gradients and its absence from the derived genotype.
final class AuxiliarySkipTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func testBetaSchedulesWorkedExamples() {
    let epochs = [0, 25, 49]
    let expected: [(AuxiliarySkip.Decay, [Double])] = [
      (.linear, [1, 0.5, 0.02]),
      (.cosine, [1, 0.5, 0.000_986_635_785_864_220_5]),  // (1 + cos(0.98π))/2
      (.slowCosine, [1, 0.707_106_781_186_547_6, 0.031_410_759_078_128_396]),  // cos(π/4), cos(0.49π)
      (.constant, [1, 1, 1]),
    ]
    for (decay, values) in expected {
      let skip = AuxiliarySkip(decay: decay)
      for (epoch, value) in zip(epochs, values) {
        XCTAssertEqual(skip.beta(epoch: epoch, epochs: 50), value, accuracy: 1e-12, "\(decay) epoch \(epoch)")
      }
    }
    XCTAssertEqual(AuxiliarySkip(decay: .linear, initial: 2).beta(epoch: 10, epochs: 50), 1.6, accuracy: 1e-12, "2·40/50")
    XCTAssertEqual(AuxiliarySkip(decay: .constant, initial: 0.7).beta(epoch: 30, epochs: 50), 0.7)
    XCTAssertEqual(AuxiliarySkip().eventFields(beta: 0.5), ["auxiliary_skip_decay": .string("linear"), "auxiliary_skip_beta": .double(0.5)])
  }

  /// With `none` as the only operation every term of the mixture is zero, so each node is β
  /// times the sum of its inputs' skips: β·x on each stride-1 edge (exactly, with β a power
  /// of two), β·FactorizedReduce(x) on each stride-2 edge of a reduction cell.
  func testWithOnlyNoneEveryEdgeOutputsBetaTimesItsSkip() {
    let configuration = SearchNetworkConfiguration(channels: 8, steps: 3, operations: [.none], auxiliarySkip: true)
    let edges = configuration.topology.edgeCount
    let weights = Tensor(repeating: 1, shape: [edges, 1], on: backend)  // softmax of one column
    for isReduction in [false, true] {
      var generator = SeededGenerator(seed: 9)
      let (cell, s0, s1) = searchCellFixture(configuration, isReduction: isReduction, generator: &generator, on: backend)
      for beta: Float in [0.5, 0.25] {
        let output = cell(s0, s1, weights: weights, edgeWeights: nil, auxiliaryWeight: beta)
        var states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        for step in 0..<3 {
          let range = cell.topology.edges(ofStep: step)
          let skips = range.map { edge in
            let skip = cell.edges[edge].auxiliary!
            let x = states[edge - range.lowerBound]
            if cell.edges[edge].stride == 1 { XCTAssert(skip is Identity, "stride-1 skip of edge \(edge)") }
            return skip(x)
          }
          states.append(skips.dropFirst().reduce(skips[0], +) * beta)
        }
        XCTAssertEqual(output.shape, [2, 24, isReduction ? 4 : 8, isReduction ? 4 : 8])
        XCTAssertEqual(output.scalars, Tensor.concatenated(Array(states[2...]), alongAxis: 1).scalars, "reduction \(isReduction) β \(beta)")
        let strideTwo = cell.edges.filter { $0.stride == 2 }
        XCTAssertEqual(strideTwo.count, isReduction ? 6 : 0)
        XCTAssert(strideTwo.allSatisfy { $0.auxiliary is FactorizedReduce })
      }
    }
  }

  /// The skip adds exactly the two 1×1 convolutions C→C/2 (C² weights) of the FactorizedReduce
  /// on each of the 2·steps stride-2 edges of each reduction cell, named after the reference
  /// (`auxiliary_op`), and no other weight.
  func testParametersGrowOnlyByTheFactorizedReducesOfStrideTwoEdges() {
    func weights(_ auxiliarySkip: Bool) -> [String: Int] {
      var factory = ParameterFactory(backend: backend, seed: 3)
      let network = SearchNetwork(SearchNetworkConfiguration(channels: 4, layers: 5, auxiliarySkip: auxiliarySkip), using: &factory)
      return Dictionary(uniqueKeysWithValues: network.namedParameters(.weight).map { ($0.name, $0.parameter.value.count) })
    }
    let (plain, auxiliary) = (weights(false), weights(true))
    XCTAssert(plain.allSatisfy { auxiliary[$0.key] == $0.value }, "every DARTS weight is kept with its shape")
    // Reduction cells 1 and 3 at C = 8 and 16; edges 0, 1, 2, 3, 5, 6, 9, 10 read the cell inputs.
    var expected: [String: Int] = [:]
    for (cell, c) in [(1, 8), (3, 16)] {
      for edge in [0, 1, 2, 3, 5, 6, 9, 10] {
        for conv in ["conv_1", "conv_2"] { expected["cells.\(cell)._ops.\(edge).auxiliary_op.\(conv).weight"] = c * c / 2 }
      }
    }
    XCTAssertEqual(auxiliary.filter { plain[$0.key] == nil }, expected)
    XCTAssertEqual(auxiliary.values.reduce(0, +) - plain.values.reduce(0, +), 8 * (8 * 8 + 16 * 16))
  }

  func testLossGradientsWithRespectToAlphaAndTheSkipWeightsMatchFiniteDifferences() throws {
    var factory = ParameterFactory(backend: backend, seed: 5)
    let net = SearchNetwork(SearchNetworkConfiguration(channels: 4, layers: 3, steps: 2, classes: 5, auxiliarySkip: true), using: &factory)
    net.auxiliarySkipBeta = 0.7
    var generator = SeededGenerator(seed: 9)
    let x = Tensor.randomNormal([4, 3, 8, 8], generator: &generator, on: backend)
    let labels = [0, 3, 1, 4]
    func loss() -> Tensor { net(x).crossEntropy(labels: labels) }
    let skipWeights = net.namedParameters(.weight).filter { $0.name.contains("auxiliary_op") }
    XCTAssertEqual(skipWeights.count, 2 * 2 * 4, "cells 1 and 2 reduce; 4 stride-2 edges of 2 nodes; 2 convolutions each")
    // The skip's output reaches the node with β = 0.7, several times an operation's weight
    // (≈ 1/8), so steps of 1e-2 in its convolutions cross ReLU kinks further on: 1e-3 there.
    let analytic = try assertGradientsMatchFiniteDifferences(
      of: loss, wrt: net.architectureParameters + [skipWeights[0], skipWeights[skipWeights.count - 1]], in: net, every: 3,
      step: { $0.contains("auxiliary_op") ? 1e-3 : 1e-2 })
    XCTAssert(analytic.last!.scalars.contains { abs($0) > 1e-4 }, "the skip's convolutions are trained")
  }

  /// After search steps with the skip (first and second order), the genotype is the DARTS
  /// parse of the same α: a plain supernet given that α derives the same cells.
  func testTheGenotypeIsTheDARTSDerivationOfTheSameAlpha() throws {
    for order in [Architect.Order.first, .second] {
      var factory = ParameterFactory(backend: backend, seed: 21)
      let configuration = SearchNetworkConfiguration(channels: 4, layers: 3, steps: 2, classes: 5, auxiliarySkip: true)
      let network = SearchNetwork(configuration, using: &factory)
      network.auxiliarySkipBeta = 0.9
      var optimization = SearchOptimization(
        weights: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 3e-4),
        architecture: Adam(learningRate: 3e-2, beta1: 0.5, beta2: 0.999, weightDecay: 1e-3),
        architect: Architect(order: order))
      let before = network.stateDict().mapValues(\.scalars)
      var data = SeededGenerator(seed: 13)
      for step in 0..<2 {
        let train = randomBatch(count: 2, channels: 3, size: 8, classes: 5, generator: &data, on: backend)
        let valid = randomBatch(count: 2, channels: 3, size: 8, classes: 5, generator: &data, on: backend)
        _ = try optimization.step(
          network: network, train: LabelledBatch(images: train.images, labels: train.labels),
          valid: LabelledBatch(images: valid.images, labels: valid.labels), updateArchitecture: true,
          perturbationGenerator: SeededGenerator(seed: UInt64(step)))
      }
      let after = network.stateDict()
      let skipConvolution = "cells.1._ops.0.auxiliary_op.conv_1.weight"
      XCTAssertNotEqual(after[skipConvolution]?.scalars, before[skipConvolution], "\(order): the weight step trains the skip")
      XCTAssertNotEqual(after["alphas_normal"]?.scalars, before["alphas_normal"], "\(order)")

      var plainConfiguration = configuration
      plainConfiguration.auxiliarySkip = false
      var plainFactory = ParameterFactory(backend: backend, seed: 1)
      let plain = SearchNetwork(plainConfiguration, using: &plainFactory)
      try plain.update(parameters: ["alphas_normal": after["alphas_normal"]!, "alphas_reduce": after["alphas_reduce"]!])
      let genotype = GenotypeDerivation.genotype(of: network)
      XCTAssertEqual(genotype, GenotypeDerivation.genotype(of: plain), "\(order)")
      XCTAssert((genotype.normal + genotype.reduce).allSatisfy { Primitive.searchSpace.contains($0.operation) && $0.operation != .none })
    }
  }

  func testSettingsRefuseBadBetaAndPartialChannelsKeepTheSkipInStagesAndOlderConfigsDecode() throws {
    var s = SearchSettings()
    s.auxiliarySkip = AuxiliarySkip()
    XCTAssertNil(s.validationProblem())
    XCTAssertTrue(s.networkConfiguration(inputChannels: 3, classes: 10).auxiliarySkip)
    s.auxiliarySkip = AuxiliarySkip(initial: -1)
    XCTAssertEqual(s.validationProblem(), "--auxiliary-skip-beta must be finite and not negative, got -1.0")
    s.auxiliarySkip = AuxiliarySkip(initial: .infinity)
    XCTAssertEqual(s.validationProblem(), "--auxiliary-skip-beta must be finite and not negative, got inf")
    s = .reference(for: .pcDarts)
    s.auxiliarySkip = AuxiliarySkip()
    XCTAssertEqual(
      s.validationProblem(),
      "--auxiliary-skip works on whole edges: use --partial-channels 1 (got 4; PC-DARTS' partial channels bypass the operations)")
    s.partialChannels = 1
    XCTAssertNil(s.validationProblem(), "PC-DARTS' edge normalisation on whole edges")
    var progressive = SearchSettings.reference(for: .pDarts)
    progressive.auxiliarySkip = AuxiliarySkip()
    XCTAssertNil(progressive.validationProblem())
    let strategy = progressive.strategy
    let base = progressive.networkConfiguration(inputChannels: 3, classes: 10)
    XCTAssertTrue(strategy.network(base, stages: strategy.initialStages(all: base)).configuration.auxiliarySkip, "P-DARTS' stage networks")

    s.auxiliarySkip = AuxiliarySkip(decay: .slowCosine, initial: 0.5)
    let encoded = try JSONEncoder().encode(s)
    XCTAssertEqual(try JSONDecoder().decode(SearchSettings.self, from: encoded), s)
    let object = try XCTUnwrap(JSONSerialization.jsonObject(with: encoded) as? [String: Any])
    let stored = try XCTUnwrap(object["auxiliarySkip"] as? [String: Any])
    XCTAssertEqual(stored["decay"] as? String, "slow-cosine")
    XCTAssertEqual(stored["initial"] as? Double, 0.5)
    var older = object
    older["auxiliarySkip"] = nil
    let decoded = try JSONDecoder().decode(SearchSettings.self, from: JSONSerialization.data(withJSONObject: older))
    XCTAssertNil(decoded.auxiliarySkip, "a config.json written before the option")
  }

  /// The memory estimate counts the skip's FactorizedReduce weights (C² per stride-2 edge) and
  /// outputs, and stays a lower bound of the real weights.
  func testMemoryEstimateCountsTheSkipsFactorizedReduces() {
    let plain = SearchNetworkConfiguration(channels: 16, layers: 8)
    var auxiliary = plain
    auxiliary.auxiliarySkip = true
    let (a, p) = (auxiliary.memoryEstimate(inputSize: 32, batch: 1), plain.memoryEstimate(inputSize: 32, batch: 1))
    // Reduction cells 2 and 5 at C = 32 and 64 (16×16 and 8×8 outputs), 8 stride-2 edges each.
    XCTAssertEqual(a.weights - p.weights, 8 * (32 * 32 + 64 * 64), accuracy: 1e-6)
    XCTAssertEqual(a.activations - p.activations, 8 * (32 * 16 * 16 + 64 * 8 * 8), accuracy: 1e-6)
    var factory = ParameterFactory(backend: backend, seed: 0)
    let network = SearchNetwork(auxiliary, using: &factory)
    let real = Double(network.namedParameters(.weight).reduce(0) { $0 + $1.parameter.value.count })
    XCTAssertLessThanOrEqual(auxiliary.memoryEstimate(inputSize: 32, batch: 0).weights, real)
  }
}
