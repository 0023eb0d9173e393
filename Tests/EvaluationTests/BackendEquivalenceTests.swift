import Evaluation
import NN
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// A training step of a DARTS_V2 evaluation network with the auxiliary head and drop path on,
/// run on the two backends of `backendPair()` from the same state and batch with identically
/// seeded drop-path generators: the losses, weights, BN statistics and momentum buffers agree.
///
/// The state is identical on both backends because every value is drawn on the host: the
/// weights from one seed, the momentum buffers as if from an earlier step (so SGD takes its
/// `buf = μ·buf + d` path). One step is compared, not several, for the reason given in
/// SearchTests' `BackendEquivalenceTests` (ReLU masks flipped by rounding in a later step).
///
/// The network is the smallest with every kind of cell and the head: C = 4, 5 cells
/// (reductions at 1 and 3, each followed by a normal cell that reduces its first input),
/// 24×24 RGB images (the head after cell 3 needs at least 6×6), 10 classes, batch 4 (with 2 the
/// head's BN(768) on its 1×1 map normalises two values per channel, and a one-ulp change of the
/// weights moves the gradients by up to 1e-4); the `darts` preset's step (SGD 0.025, momentum
/// 0.9, weight decay 3e-4, clip 5, auxiliary weight 0.4) with drop path 0.2 (its final rate).
///
/// Measured (largest |fast − reference|; one and two CPU threads / a one-ulp random change of
/// every weight against the unchanged network, 8 draws, the rounding noise of a backend of
/// plain loops): losses 0 / 7.2e-7, weights 2.2e-8 / 2.4e-7, BN statistics 0 / 6.0e-7,
/// momentum buffers 7.9e-7 / 3.3e-6. Against the reference backend (cpu(2 threads) vs
/// reference): weights 1.2e-7, BN statistics 3.6e-7, momentum buffers 2.0e-6.
///
/// The same step on a `ProfilingBackend` wrapping the CPU backend gives the CPU backend's
/// results bit for bit (it calls the same primitives with the same arguments).
final class BackendEquivalenceTests: XCTestCase {
  let backends = backendPair()

  func testTheProfilingBackendGivesTheWrappedBackendsStepBitForBit() throws {
    let plain = try run(on: CPUBackend(threads: 2))
    let profiler = ProfilingBackend(wrapping: CPUBackend(threads: 2))
    let profiled = try run(on: profiler)
    XCTAssertEqual(profiled.losses, plain.losses)
    XCTAssertEqual(profiled.generator, plain.generator)
    for (a, b) in [(profiled.final, plain.final), (profiled.momentumBuffers, plain.momentumBuffers)] {
      XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
      for (name, value) in b { XCTAssertEqual(a[name]?.scalars, value.scalars, name) }
    }
    XCTAssertGreaterThan(profiler.profile[.convolutionBackwardWeightDepthwise].calls, 0, "the step ran on the profiler")
  }

  func testDARTSV2TrainingStepWithAuxiliaryHeadAndDropPathMatchesTheReferenceBackend() throws {
    let fast = try run(on: backends.fast)
    let reference = try run(on: backends.reference)
    let pair = "\(backends.fast.name) vs \(backends.reference.name)"

    for (a, b) in [(fast.initial, reference.initial), (fast.initialMomentumBuffers, reference.initialMomentumBuffers)] {
      XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
      for (name, value) in b {
        XCTAssertEqual(a[name]?.scalars, value.scalars, "\(name): drawn on the host, equal on both")
      }
    }
    XCTAssertEqual(fast.generator, reference.generator, "the same drop-path draws")
    XCTAssertNotEqual(fast.generator, SeededGenerator(seed: 5), "drop path drew its masks")
    XCTAssertEqual(fast.losses.count, 2, "main and auxiliary loss")
    // Tolerances 10–40× above the deviations measured (see the type's comment).
    assertClose(fast.losses, reference.losses, rtol: 1e-5, atol: 0, "losses, \(pair)")
    func group(_ state: [String: Tensor], _ kind: ParameterKind) -> [String: Tensor] { state.filter { fast.kinds[$0.key] == kind } }
    assertClose(group(fast.final, .weight), group(reference.final, .weight), rtol: 1e-5, atol: 3e-6, "weights, \(pair)")
    assertClose(group(fast.final, .buffer), group(reference.final, .buffer), rtol: 1e-5, atol: 1e-5, "BN statistics, \(pair)")
    assertClose(fast.momentumBuffers, reference.momentumBuffers, rtol: 1e-4, atol: 3e-5, "momentum buffers, \(pair)")
    // The step moved every weight, BN statistic and momentum buffer, the auxiliary head's included.
    assertChanged(fast.initial.keys.sorted(), from: fast.initial, to: fast.final)
    assertChanged(fast.initialMomentumBuffers.keys.sorted(), from: fast.initialMomentumBuffers, to: fast.momentumBuffers)
    XCTAssertTrue(fast.initial.keys.contains { $0.hasPrefix("auxiliary_head.") })
  }

  /// What one backend computed.
  struct Outcome {
    /// Every tensor of the network and the momentum buffers, before and after the step, and
    /// each tensor's group.
    var initial: [String: Tensor]
    var final: [String: Tensor]
    var kinds: [String: ParameterKind]
    var initialMomentumBuffers: [String: Tensor]
    var momentumBuffers: [String: Tensor]
    /// The main and the auxiliary loss.
    var losses: [Float]
    /// The drop-path generator after the step.
    var generator: SeededGenerator
  }

  func run(on backend: any Backend) throws -> Outcome {
    var factory = ParameterFactory(backend: backend, seed: 3)
    let network = EvaluationNetwork(
      genotype: .dartsV2, channels: 4, layers: 5, classes: 10, inputChannels: 3, inputSize: 24, auxiliary: true, using: &factory)
    var step = TrainingStep(optimizer: SGD(learningRate: 0.025, momentum: 0.9, weightDecay: 3e-4), gradientClip: 5, auxiliaryWeight: 0.4)
    var data = SeededGenerator(seed: 11)
    let batch = randomBatch(count: 4, channels: 3, size: 24, classes: 10, generator: &data, on: backend)
    // Momentum buffers N(0, 0.01²), as if resumed after earlier steps.
    for (name, parameter) in network.namedParameters(.weight) {
      step.optimizer.momentumBuffers[name] = Tensor.randomNormal(parameter.value.shape, standardDeviation: 0.01, generator: &data, on: backend)
    }
    let (initial, initialMomentumBuffers) = (network.stateDict(), step.optimizer.momentumBuffers)
    var generator = SeededGenerator(seed: 5)
    let result = try step(network, images: batch.images, labels: batch.labels, dropPath: 0.2, generator: &generator)
    return Outcome(
      initial: initial, final: network.stateDict(),
      kinds: Dictionary(uniqueKeysWithValues: network.namedParameters().map { ($0.name, $0.parameter.kind) }),
      initialMomentumBuffers: initialMomentumBuffers, momentumBuffers: step.optimizer.momentumBuffers,
      losses: [result.loss] + (result.auxiliaryLoss.map { [$0] } ?? []), generator: generator)
  }
}
