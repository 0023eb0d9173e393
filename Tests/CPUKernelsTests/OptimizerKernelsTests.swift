import CPUKernels
import XCTest
import _TestSupport

/// `OptimizerKernels` against `ReferenceOptimizer`. Every step starts both from the same state
/// (the fast kernel's state after the previous step), so errors do not compound. The reference
/// evaluates each formula in Double and rounds once; the fast kernel rounds after every Float
/// operation, up to half an ulp of each term, which is what the tolerances allow:
/// - optimiser state: `rtol` 1e-6 (about 8 ulps) and an `atol` of three half-ulps of the
///   largest term, for where `g + λw` or `β·m + (1−β)·g` nearly cancels (Adam's terms stay
///   below 1: 2e-7; the SGD buffer's below 4 after three steps with μ 0.9: 1e-6);
/// - weights: 1 ulp (`rtol` 1.2e-7) plus `atol` 2e-8, twice what the rounding of the update
///   can add: 2.4e-7 of `buf`, times `lr` 0.025, plus half an ulp of `lr·buf` (Adam's updates
///   are smaller). It shows where the update nearly cancels the weight.
final class OptimizerKernelsTests: XCTestCase {
  static let counts = [1, 17, 1_000]

  func testSGDMatchesReference() {
    for n in Self.counts {
      for (momentum, weightDecay): (Float, Float) in [(0.9, 3e-4), (0, 0), (0.5, 0.1)] {
        var weight = randomArray(n, seed: 1)
        // Never read on the first step: NaN would show if it were.
        var buffer = [Float](repeating: .nan, count: n)
        for step in 0..<3 {
          let label = "n \(n) momentum \(momentum) decay \(weightDecay) step \(step)"
          let gradient = randomArray(n, seed: UInt64(10 + step))
          var (expectedWeight, expectedBuffer) = (weight, buffer)
          ReferenceOptimizer.sgdStep(
            weight: &expectedWeight, gradient: gradient, momentumBuffer: &expectedBuffer, count: n,
            learningRate: 0.025, momentum: momentum, weightDecay: weightDecay, firstStep: step == 0)
          OptimizerKernels.sgdStep(
            weight: &weight, gradient: gradient, momentumBuffer: &buffer, count: n, learningRate: 0.025,
            momentum: momentum, weightDecay: weightDecay, firstStep: step == 0)
          assertClose(weight, expectedWeight, rtol: 1.2e-7, atol: 2e-8, "weight \(label)")
          assertClose(buffer, expectedBuffer, rtol: 1e-6, atol: 1e-6, "buffer \(label)")
        }
      }
    }
  }

  /// Steps 1 to 5 from zero moments, with the hyper-parameters of PyTorch's defaults and of
  /// DARTS's architecture optimiser.
  func testAdamMatchesReference() {
    let settings: [(learningRate: Double, beta1: Double, beta2: Double, weightDecay: Double)] = [
      (1e-3, 0.9, 0.999, 0), (3e-4, 0.5, 0.999, 1e-3),
    ]
    for n in Self.counts {
      for s in settings {
        var weight = randomArray(n, seed: 2)
        var (m, v) = ([Float](repeating: 0, count: n), [Float](repeating: 0, count: n))
        for t in 1...5 {
          let label = "n \(n) β \(s.beta1), \(s.beta2) decay \(s.weightDecay) step \(t)"
          let gradient = randomArray(n, seed: UInt64(20 + t))
          var (expectedWeight, expectedM, expectedV) = (weight, m, v)
          ReferenceOptimizer.adamStep(
            weight: &expectedWeight, gradient: gradient, firstMoment: &expectedM, secondMoment: &expectedV,
            count: n, step: t, learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2, epsilon: 1e-8,
            weightDecay: s.weightDecay)
          OptimizerKernels.adamStep(
            weight: &weight, gradient: gradient, firstMoment: &m, secondMoment: &v, count: n, step: t,
            learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2, epsilon: 1e-8,
            weightDecay: s.weightDecay)
          assertClose(weight, expectedWeight, rtol: 1.2e-7, atol: 2e-8, "weight \(label)")
          assertClose(m, expectedM, rtol: 1e-6, atol: 2e-7, "first moment \(label)")
          assertClose(v, expectedV, rtol: 1e-6, atol: 2e-7, "second moment \(label)")
        }
      }
    }
  }
}
