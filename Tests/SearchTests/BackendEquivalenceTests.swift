import NN
import Search
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// One search iteration run on the two backends of `backendPair()` from the same state and
/// batches: DARTS first and second order, PC-DARTS (K = 4, edge normalisation) and the first
/// P-DARTS stage with skip dropout give the same losses, α/β gradients, weights, BN
/// statistics, α/β and optimiser state.
///
/// The state is the same on both backends because every value is drawn on the host: weights
/// and α/β from one seed, and an optimiser state as if resumed after earlier steps (SGD
/// momentum buffers, Adam moments), so the iteration takes the paths of a run's later steps:
/// the second-order virtual step reads the momentum buffers, and Adam's update is not the
/// sign-like `g/|g|` of its first step, under which an α gradient element near zero would move
/// its α by ±2·lr on a rounding difference.
///
/// Tolerances. The backends sum in different orders, so results differ by rounding, and a
/// ReLU network's gradient is discontinuous where a pre-activation crosses zero: when rounding
/// moves one across, a gradient changes by a whole term of its sum. The tolerances were set
/// from two measurements: one and two CPU threads (which differ only where a kernel splits a
/// sum, here the stem convolution's weight gradient), and a one-ulp random change of
/// every weight and α/β against the unchanged network (rounding noise in every layer, as a
/// backend of plain loops gives), 12 draws per test. They sit 10–100× above the largest
/// deviation of those draws except the jumps: a first-order iteration jumped once in 36 draws
/// (the stem's weight gradient moved by 0.7 %, its weights by 7e-5), which no rounding-level
/// tolerance absorbs; see the second-order test for its own. Each test states its measured
/// deviations. One iteration is compared, not several, because the deviations of one step
/// make jumps in the next more likely.
///
/// The supernets have 5 cells (the fewest with a normal cell before, between and after the
/// reductions at 1 and 3), 16×16 RGB images, batch 2, 10 classes. At 8×8 the last cells are
/// 2×2, where every 3×3 pooling window covers the whole map and BN normalises two distinct
/// values per channel: a one-ulp change of the weights then moves α gradients by 70 %.
final class BackendEquivalenceTests: XCTestCase {
  let backends = backendPair()

  /// Measured (largest |fast − reference|; cpu(2 threads) vs reference / one-ulp draws): α
  /// gradients 2.1e-7 / 3.2e-7, weights 3.0e-8 / 1.2e-7, BN statistics 3.6e-7 / 4.8e-7, α
  /// 2.3e-10 / 4.7e-10, momentum buffers 1.2e-6 / 3.2e-6, Adam moments 1.1e-7 / 1.6e-7.
  func testDARTSFirstOrderStepMatchesTheReferenceBackend() throws {
    try assertEquivalent(.darts(order: .first), tolerances: .firstOrder)
  }

  /// The architect's virtual step, validation pass at the unrolled weights and the two
  /// training passes at `w ± εv` (through the momentum buffers). Its α gradient divides a
  /// difference of two gradients by 2ε (`η/2ε ≈ 14` here), so a ReLU-mask jump in any of its
  /// four backward passes moves the whole α gradient: in 7 of 12 one-ulp draws by 1.9e-4, in
  /// one by 5e-2 (12 % of its largest element; a tolerance that loose would test nothing).
  /// The α-gradient and Adam tolerances cover the first kind, 10× over.
  ///
  /// Measured (cpu vs reference / one-ulp draws without the 5e-2 jump): α gradients 3.0e-6 /
  /// 1.9e-4, weights 1.2e-7 / 2.4e-7, BN statistics 5.4e-7 / 2.5e-6, α 8.4e-10 / 6.7e-8,
  /// momentum buffers 5.4e-7 / 2.6e-6, Adam moments 1.5e-6 / 9.6e-5.
  func testDARTSSecondOrderStepMatchesTheReferenceBackend() throws {
    try assertEquivalent(.darts(order: .second), tolerances: .secondOrder)
  }

  /// PC-DARTS's reference settings (SGD 0.1, Adam 6e-4, K = 4, β) on C = 8, so the
  /// operations see 2 of 8 channels and the reduction cells 4 of 16.
  ///
  /// Measured (cpu vs reference / one-ulp draws): α/β gradients 1.7e-8 / 6.0e-8, weights
  /// 3.0e-8 / 1.2e-7, BN statistics 2.4e-7 / 3.0e-7, α/β 1.2e-10 / 3.5e-10, momentum buffers
  /// 1.7e-7 / 5.7e-7, Adam moments 8.4e-9 / 3.0e-8.
  func testPCDARTSStepWithEdgeWeightsMatchesTheReferenceBackend() throws {
    let outcome = try assertEquivalent(
      Scenario(
        configuration: SearchNetworkConfiguration(channels: 8, layers: 5, partialChannels: 4, edgeNormalization: true),
        optimization: .darts(order: .first, learningRate: 0.1, architectureLearningRate: 6e-4)),
      tolerances: .firstOrder)
    XCTAssertEqual(outcome.architectureGradients.keys.sorted(), ["alphas_normal", "alphas_reduce", "betas_normal", "betas_reduce"])
  }

  /// The first P-DARTS stage as the strategy builds it (every operation, 5 cells) at the first
  /// epoch that trains α, with the P-DARTS README's stage-1 skip dropout 0.1 (the paper's
  /// CIFAR-10 rate 0 would build no dropout layers) and α/β gradients clipped to 5.
  ///
  /// Measured (cpu vs reference / one-ulp draws without the one jump of 12): α gradients
  /// 1.3e-7 / 3.4e-7, weights 3.0e-8 / 1.2e-7, BN statistics 2.4e-7 / 7.2e-7, α 2.3e-10 /
  /// 7.0e-10, momentum buffers 1.2e-6 / 2.5e-6, Adam moments 6.7e-8 / 1.7e-7.
  func testPDARTSStageOneStepWithSkipDropoutMatchesTheReferenceBackend() throws {
    var settings = SearchSettings.reference(for: .pDarts)
    settings.channels = 4
    settings.progressive?.skipDropout = [0.1, 0.4, 0.7]
    let strategy = PDARTSStrategy(settings: settings)
    let base = settings.networkConfiguration(inputChannels: 3, classes: 10)
    let (configuration, seed) = strategy.network(base, stages: strategy.initialStages(all: base))
    let epoch = settings.architectureWarmupEpochs
    XCTAssertTrue(strategy.updatesArchitecture(epoch: epoch))
    XCTAssertEqual(configuration.layers, 5)
    XCTAssertEqual(configuration.normalOperations, Array(repeating: Primitive.searchSpace, count: 14))
    XCTAssertTrue(configuration.skipDropout)
    let rate = try XCTUnwrap(strategy.skipDropoutRate(stage: 0, epoch: epoch))
    XCTAssertEqual(rate, 0.1, accuracy: 1e-12)
    try assertEquivalent(
      Scenario(
        configuration: configuration, seed: seed,
        optimization: .darts(
          order: .first, learningRate: Float(settings.learningRate(epoch: epoch)),
          architectureLearningRate: settings.architectureLearningRate, architectureGradientClip: strategy.architectureGradientClip),
        skipDropout: Float(rate)),
      tolerances: .firstOrder)
  }

  // MARK: The comparison

  /// What a comparison allows: `|fast − reference| ≤ atol + rtol·|reference|` element-wise.
  struct Tolerance {
    var rtol: Float
    var atol: Float
  }

  /// The tolerances of one scenario's comparisons (the measured deviations they cover are in
  /// each test's comment).
  struct Tolerances {
    /// The weight-step and architecture-step losses (relative; the losses are about 2.5).
    var loss: Float
    var architectureGradients: Tolerance
    /// Weights, BN statistics and α/β (about 1e-3, moved by about 1e-5) after the iteration.
    var weights: Tolerance
    var statistics: Tolerance
    var architecture: Tolerance
    var momentumBuffers: Tolerance
    var adamMoments: Tolerance

    /// The first-order iterations: 10–100× above the deviations measured.
    static let firstOrder = Tolerances(
      loss: 1e-5, architectureGradients: Tolerance(rtol: 1e-4, atol: 3e-6), weights: Tolerance(rtol: 1e-5, atol: 3e-6),
      statistics: Tolerance(rtol: 1e-5, atol: 1e-5), architecture: Tolerance(rtol: 1e-5, atol: 1e-8),
      momentumBuffers: Tolerance(rtol: 1e-4, atol: 3e-5),
      adamMoments: Tolerance(rtol: 1e-4, atol: 2e-6))

    /// The second-order iteration: as first order, except the α gradient and what follows
    /// from it (Adam's moments, α, and the BN statistics of the passes at `w ± εv`), 10× above
    /// the finite difference's common jump.
    static let secondOrder = Tolerances(
      loss: 1e-5, architectureGradients: Tolerance(rtol: 1e-3, atol: 2e-3), weights: Tolerance(rtol: 1e-5, atol: 3e-6),
      statistics: Tolerance(rtol: 1e-5, atol: 3e-5), architecture: Tolerance(rtol: 1e-4, atol: 1e-6),
      momentumBuffers: Tolerance(rtol: 1e-4, atol: 3e-5),
      adamMoments: Tolerance(rtol: 1e-3, atol: 1e-3))
  }

  /// A supernet, its seed, its optimisers and (P-DARTS) its skip-dropout rate.
  struct Scenario {
    var configuration: SearchNetworkConfiguration
    var seed: UInt64 = 2
    var optimization: SearchOptimization
    /// The rate of the skip-dropout layers; nil for a supernet without them.
    var skipDropout: Float?

    /// DARTS's reference settings (SGD 0.025, Adam 3e-4) on C = 4.
    static func darts(order: Architect.Order) -> Scenario {
      Scenario(
        configuration: SearchNetworkConfiguration(channels: 4, layers: 5),
        optimization: .darts(order: order, learningRate: 0.025, architectureLearningRate: 3e-4))
    }
  }

  /// What one backend computed.
  struct Outcome {
    /// Every tensor of the network before and after the iteration, and its group.
    var initial: [String: Tensor]
    var final: [String: Tensor]
    var kinds: [String: ParameterKind]
    /// The weight-step loss, and the architecture-step loss (first order only).
    var losses: [Float]
    /// The α/β gradients at the initial state, by name.
    var architectureGradients: [String: Tensor]
    /// The optimisers' state (see `SearchOptimization.state`) before and after the iteration.
    var initialOptimizerState: [String: Tensor]
    var optimizerState: [String: Tensor]
  }

  func run(_ scenario: Scenario, on backend: any Backend) throws -> Outcome {
    var factory = ParameterFactory(backend: backend, seed: scenario.seed)
    let network = SearchNetwork(scenario.configuration, using: &factory)
    let dropouts = network.modules().compactMap { $0 as? Dropout }
    XCTAssertEqual(dropouts.isEmpty, scenario.skipDropout == nil, "skip-dropout layers exactly when the scenario has a rate")
    for layer in dropouts { layer.probability = scenario.skipDropout ?? 0 }
    // The gradient check and the step draw the same dropout masks, as SearchRun reseeds the
    // layers from the position before each step.
    func resetDropout() {
      var generator = SeededGenerator(seed: 101)
      for layer in dropouts { layer.generator = generator.split() }
    }
    var data = SeededGenerator(seed: 11)
    func batch() -> LabelledBatch {
      let b = randomBatch(count: 2, channels: 3, size: 16, classes: 10, generator: &data, on: backend)
      return LabelledBatch(images: b.images, labels: b.labels)
    }
    let (train, valid) = (batch(), batch())
    var optimization = scenario.optimization
    optimization.resume(network, generator: &data)
    let initial = network.stateDict()
    let initialOptimizerState = optimization.state

    resetDropout()
    let architecture = network.architectureParameters
    let g = try optimization.architect.architectureGradients(
      network: network, architecture: architecture, train: train, valid: valid, weightOptimizer: optimization.weights,
      gradient: { gradients(of: network($0.images).crossEntropy(labels: $0.labels), wrt: $1) })
    try network.update(parameters: initial)  // the BN statistics its passes moved

    resetDropout()
    let result = try optimization.step(network: network, train: train, valid: valid, updateArchitecture: true)
    return Outcome(
      initial: initial, final: network.stateDict(),
      kinds: Dictionary(uniqueKeysWithValues: network.namedParameters().map { ($0.name, $0.parameter.kind) }),
      losses: [result.loss] + (result.architectureLoss.map { [$0] } ?? []),
      architectureGradients: Dictionary(uniqueKeysWithValues: zip(architecture.map(\.name), g)),
      initialOptimizerState: initialOptimizerState, optimizerState: optimization.state)
  }

  /// Runs `scenario` on both backends, asserts that they agree within `tolerances` and that the
  /// iteration changed every tensor; returns the fast backend's outcome.
  @discardableResult
  func assertEquivalent(_ scenario: Scenario, tolerances: Tolerances, file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
    let fast = try run(scenario, on: backends.fast)
    let reference = try run(scenario, on: backends.reference)
    let pair = "\(backends.fast.name) vs \(backends.reference.name)"
    for (a, b) in [(fast.initial, reference.initial), (fast.initialOptimizerState, reference.initialOptimizerState)] {
      XCTAssertEqual(a.keys.sorted(), b.keys.sorted(), file: file, line: line)
      for (name, value) in b {
        XCTAssertEqual(a[name]?.scalars, value.scalars, "\(name): drawn on the host, equal on both", file: file, line: line)
      }
    }

    XCTAssertEqual(fast.losses.count, scenario.optimization.architect.order == .first ? 2 : 1, file: file, line: line)
    assertClose(fast.losses, reference.losses, rtol: tolerances.loss, atol: 0, "losses, \(pair)", file: file, line: line)
    func compare(_ a: [String: Tensor], _ b: [String: Tensor], _ tolerance: Tolerance, _ what: String) {
      assertClose(a, b, rtol: tolerance.rtol, atol: tolerance.atol, "\(what), \(pair)", file: file, line: line)
    }
    compare(fast.architectureGradients, reference.architectureGradients, tolerances.architectureGradients, "α/β gradient")
    for (kind, tolerance) in [(ParameterKind.weight, tolerances.weights), (.buffer, tolerances.statistics), (.architecture, tolerances.architecture)] {
      func group(_ state: [String: Tensor]) -> [String: Tensor] { state.filter { fast.kinds[$0.key] == kind } }
      compare(group(fast.final), group(reference.final), tolerance, "\(kind) after the step")
    }
    func optimizer(_ state: [String: Tensor], adam: Bool) -> [String: Tensor] { state.filter { $0.key.hasPrefix("adam.") == adam } }
    compare(optimizer(fast.optimizerState, adam: false), optimizer(reference.optimizerState, adam: false), tolerances.momentumBuffers, "momentum buffers after the step")
    compare(optimizer(fast.optimizerState, adam: true), optimizer(reference.optimizerState, adam: true), tolerances.adamMoments, "Adam moments after the step")

    // The iteration moved every weight, BN statistic, α/β and optimiser state (a no-op cannot
    // pass), with non-zero α/β gradients.
    assertChanged(fast.initial.keys.sorted(), from: fast.initial, to: fast.final, file: file, line: line)
    assertChanged(fast.initialOptimizerState.keys.sorted(), from: fast.initialOptimizerState, to: fast.optimizerState, file: file, line: line)
    XCTAssertTrue(fast.architectureGradients.values.allSatisfy { $0.scalars.contains { $0 != 0 } }, file: file, line: line)

    return fast
  }
}

extension SearchOptimization {
  /// The DARTS-family optimisers (SPEC §2.6): SGD with momentum 0.9 and weight decay 3e-4,
  /// gradients clipped to 5; Adam (0.5, 0.999) with weight decay 1e-3 for α/β.
  fileprivate static func darts(
    order: Architect.Order, learningRate: Float, architectureLearningRate: Double, architectureGradientClip: Float? = nil
  ) -> SearchOptimization {
    SearchOptimization(
      weights: SGD(learningRate: learningRate, momentum: 0.9, weightDecay: 3e-4),
      architecture: Adam(learningRate: architectureLearningRate, beta1: 0.5, beta2: 0.999, weightDecay: 1e-3),
      architect: Architect(order: order), architectureGradientClip: architectureGradientClip)
  }

  /// Gives both optimisers of `network` a state drawn from `generator` on the host, as if
  /// resumed after earlier steps: momentum buffers `N(0, 0.01²)`; Adam at step 1 with first
  /// moments `(1 − β₁)·N(0, 0.01²)` and second moments `(1 − β₂)·s²`, `s ∈ [0.5, 1.5)`, larger
  /// than the α gradients (at most 0.4 here), so that Adam's next update is smooth in them.
  fileprivate mutating func resume(_ network: SearchNetwork, generator: inout SeededGenerator) {
    for (name, parameter) in network.namedParameters(.weight) {
      weights.momentumBuffers[name] = Tensor.randomNormal(parameter.value.shape, standardDeviation: 0.01, generator: &generator, on: parameter.value.backend)
    }
    for (name, parameter) in network.architectureParameters {
      let (shape, backend) = (parameter.value.shape, parameter.value.backend)
      let m = (0..<parameter.value.count).map { _ in Float(1 - architecture.beta1) * 0.01 * generator.nextNormal() }
      let v = (0..<parameter.value.count).map { _ in
        let s = 0.5 + generator.nextUniform()
        return Float(1 - architecture.beta2) * s * s
      }
      architecture.firstMoments[name] = Tensor(shape: shape, scalars: m, on: backend)
      architecture.secondMoments[name] = Tensor(shape: shape, scalars: v, on: backend)
      architecture.steps[name] = 1
    }
  }

  /// The momentum buffers (`momentum.<name>`) and Adam moments (`adam.m.<name>`,
  /// `adam.v.<name>`) by name.
  fileprivate var state: [String: Tensor] {
    var state: [String: Tensor] = [:]
    for (name, buffer) in weights.momentumBuffers { state["momentum.\(name)"] = buffer }
    for (name, m) in architecture.firstMoments { state["adam.m.\(name)"] = m }
    for (name, v) in architecture.secondMoments { state["adam.v.\(name)"] = v }
    return state
  }
}
