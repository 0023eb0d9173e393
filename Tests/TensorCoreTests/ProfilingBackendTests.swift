import Dispatch
import TensorCore
import XCTest

/// `ProfilingBackend`: a step on it gives the wrapped backend's results bit for bit, and its
/// tallies sort the calls into the right classes, with the FLOPs and bytes of the formulas.
final class ProfilingBackendTests: XCTestCase {
  /// What one training step of `smallNetworkStep` computed, on the host.
  struct Outcome: Equatable {
    var loss: Float
    var gradients: [[Float]]
    var updated: [[Float]]
    var runningMean: [Float]
    var gradientNorm: Double
    var finite: Bool
  }

  /// One training step of a small network with every kind of kernel a DARTS step has: a dense
  /// 3×3 stem on data (so no input gradient), batch norm, a ReLU fused into a depthwise 3×3, a
  /// 1×1, a ReLU, max and average pooling, global pooling, a linear classifier and cross
  /// entropy; then the gradient norm, a finiteness check, SGD with momentum on the
  /// convolutions and BN, Adam on the classifier, and a running mean.
  func smallNetworkStep(on backend: any Backend) -> Outcome {
    var generator = SeededGenerator(seed: 7)
    func parameter(_ shape: [Int]) -> Tensor {
      Tensor.randomNormal(shape, standardDeviation: 0.3, generator: &generator, on: backend).requiringGradient()
    }
    let images = Tensor.randomNormal([2, 3, 8, 8], generator: &generator, on: backend)
    let parameters = [
      parameter([8, 3, 3, 3]), Tensor(repeating: 1, shape: [8], on: backend).requiringGradient(),
      Tensor.zeros([8], on: backend).requiringGradient(), parameter([8, 1, 3, 3]), parameter([8, 8, 1, 1]), parameter([5, 8]), parameter([5]),
    ]
    let (stem, gamma, beta, depthwise, pointwise, classifier, bias) =
      (parameters[0], parameters[1], parameters[2], parameters[3], parameters[4], parameters[5], parameters[6])
    let normalized = images.conv2d(weight: stem, padding: (1, 1)).batchNormalized(gamma: gamma, beta: beta)
    let features = normalized.output.conv2d(weight: depthwise, padding: (1, 1), groups: 8, rectifyingInput: true)
      .conv2d(weight: pointwise).relu().maxPool2d(kernel: 3, stride: 2, padding: 1).avgPool2d(kernel: 2, stride: 2)
    let logits = features.globalAveragePooled().reshaped(to: [2, 8]).linear(weight: classifier, bias: bias)
    let loss = logits.crossEntropy(labels: [1, 3])
    let grads = gradients(of: loss, wrt: parameters)

    var updated: [[Float]] = []
    for (i, gradient) in grads.enumerated().dropLast(2) {
      var (weight, buffer) = (parameters[i], Tensor(repeating: 0.01, shape: gradient.shape, on: backend))
      Tensor.sgdMomentumStep(weight: &weight, gradient: gradient, momentumBuffer: &buffer, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4, firstStep: false)
      updated.append(weight.scalars)
    }
    for (i, gradient) in grads.enumerated().suffix(2) {
      var (weight, first, second) = (parameters[i], Tensor.zeros(gradient.shape, on: backend), Tensor.zeros(gradient.shape, on: backend))
      Tensor.adamStep(
        weight: &weight, gradient: gradient, firstMoment: &first, secondMoment: &second, step: 1, learningRate: 1e-3, beta1: 0.9,
        beta2: 0.999, epsilon: 1e-8, weightDecay: 0)
      updated.append(weight.scalars)
    }
    var runningMean = Tensor.zeros([8], on: backend)
    Tensor.runningAverageStep(&runningMean, toward: normalized.mean, momentum: 0.1)
    return Outcome(
      loss: loss.scalar, gradients: grads.map(\.scalars), updated: updated, runningMean: runningMean.scalars,
      gradientNorm: grads.reduce(0) { $0 + $1.sumOfSquares }, finite: grads.allSatisfy(\.isFinite))
  }

  func testAStepGivesTheWrappedBackendsResultsBitForBit() {
    let plain = smallNetworkStep(on: CPUBackend(threads: 2))
    let profiled = smallNetworkStep(on: ProfilingBackend(wrapping: CPUBackend(threads: 2)))
    XCTAssertEqual(profiled, plain)
    XCTAssertTrue(plain.finite)
    XCTAssertGreaterThan(plain.gradientNorm, 0)
  }

  /// Every class the step calls is tallied, in the class of its shape: the stem is dense and
  /// gets no input gradient (its input is data); the depthwise and 1×1 convolutions get all
  /// three passes. The tallied time lies inside the step's, so it is at most the step's.
  func testEveryClassTheStepCallsIsTalliedWithinTheStepsTime() {
    let backend = ProfilingBackend(wrapping: CPUBackend(threads: 2))
    let start = DispatchTime.now().uptimeNanoseconds
    _ = smallNetworkStep(on: backend)
    let elapsed = DispatchTime.now().uptimeNanoseconds - start
    let profile = backend.profile
    let convolutionCalls: [(KernelClass, Int)] = [
      (.convolutionForwardDense, 1), (.convolutionForwardDepthwise, 1), (.convolutionForwardPointwise, 1),
      (.convolutionBackwardInputDense, 0), (.convolutionBackwardInputDepthwise, 1), (.convolutionBackwardInputPointwise, 1),
      (.convolutionBackwardWeightDense, 1), (.convolutionBackwardWeightDepthwise, 1), (.convolutionBackwardWeightPointwise, 1),
    ]
    for (kind, calls) in convolutionCalls { XCTAssertEqual(profile[kind].calls, calls, kind.label) }
    let used: [KernelClass] = [
      .matrixMultiply, .batchNormStatistics, .batchNormCoefficients, .batchNormBackward, .maxPoolForward,
      .maxPoolBackward, .averagePoolForward, .averagePoolBackward, .relu, .reluBackward, .exp, .log, .fill, .rowMaximum, .dot,
      .allFinite, .sgdStep, .adamStep, .runningAverage, .upload, .hostRead, .allocation,
    ]
    for kind in used { XCTAssertGreaterThan(profile[kind].calls, 0, kind.label) }
    // The batch norm's output is read only by the depthwise convolution, which maps the
    // normalisation's input as it reads it: the output is never formed.
    XCTAssertEqual(profile[.channelAffine].calls, 0)
    XCTAssertEqual(profile[.sgdStep].calls, 5)
    XCTAssertEqual(profile[.adamStep].calls, 2)
    XCTAssertEqual(profile[.runningAverage].calls, 1)
    XCTAssertEqual(profile[.allocation].bytes, 0)
    XCTAssertEqual(profile[.allocation].flops, 0)
    XCTAssertLessThanOrEqual(profile.total.nanoseconds, elapsed)

    backend.resetProfile()
    XCTAssertEqual(backend.profile, KernelProfile())
    XCTAssert(backend.memory === backend.wrapped.memory, "the wrapped backend's allocator")
  }

  /// A grouped 3×3 convolution with stride 2 (dense): each of its three passes counts
  /// 2·N·C_out·H_out·W_out·(C_in/groups)·k² FLOPs and the input, weight and output once.
  /// A depthwise and a 1×1 convolution go to their own classes.
  func testConvolutionTalliesFollowTheFormulas() {
    let backend = ProfilingBackend(wrapping: CPUBackend(threads: 1))
    var generator = SeededGenerator(seed: 1)
    let x = Tensor.randomNormal([2, 6, 9, 9], generator: &generator, on: backend).requiringGradient()
    let w = Tensor.randomNormal([4, 3, 3, 3], generator: &generator, on: backend).requiringGradient()
    let y = x.conv2d(weight: w, stride: (2, 2), padding: (1, 1), groups: 2)
    XCTAssertEqual(y.shape, [2, 4, 5, 5])
    let flops = 2 * 2 * 4 * 5 * 5 * (6 / 2) * 3 * 3  // 2·N·C_out·H_out·W_out·(C_in/groups)·k²
    let bytes = 4 * (2 * 6 * 9 * 9 + 4 * 3 * 3 * 3 + 2 * 4 * 5 * 5)
    XCTAssertEqual(flops, 10_800)
    let forward = backend.profile[.convolutionForwardDense]
    XCTAssertEqual([forward.calls, forward.flops, forward.bytes], [1, flops, bytes])
    backend.resetProfile()
    _ = y.conv2d(weight: Tensor.randomNormal([4, 1, 3, 3], generator: &generator, on: backend), padding: (1, 1), groups: 4)
    _ = y.conv2d(weight: Tensor.randomNormal([7, 4, 1, 1], generator: &generator, on: backend))
    let others = backend.profile
    XCTAssertEqual(others[.convolutionForwardDepthwise].flops, 2 * 2 * 4 * 5 * 5 * 1 * 9)
    XCTAssertEqual(others[.convolutionForwardPointwise].flops, 2 * 2 * 7 * 5 * 5 * 4 * 1)
    XCTAssertEqual(others[.convolutionForwardPointwise].bytes, 4 * (2 * 4 * 5 * 5 + 7 * 4 + 2 * 7 * 5 * 5))
    XCTAssertEqual(others[.convolutionForwardDense].calls, 0)

    backend.resetProfile()
    _ = gradients(of: y.sum(), wrt: [x, w])
    let profile = backend.profile
    for kind in [KernelClass.convolutionBackwardInputDense, .convolutionBackwardWeightDense] {
      XCTAssertEqual([profile[kind].calls, profile[kind].flops, profile[kind].bytes], [1, flops, bytes], kind.label)
    }
    XCTAssertEqual(profile[.convolutionForwardDense].calls, 0, "the forward pass ran before the reset")
  }
}
