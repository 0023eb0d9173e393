import Foundation

/// Plain-loop optimiser updates: the definition the fast `OptimizerKernels` are tested
/// against. The same formulas, term by term in the same order, but evaluated in `Double` from
/// the stored Float values and rounded to Float once per stored value. The fast kernels round
/// after every Float operation, so their results differ by a few ulps of the largest term of
/// each formula: about one ulp of the weight, unless the update nearly cancels it, and a few
/// ulps of the optimiser state, unless `g + λw` or `μ·buf + d` nearly cancels.
public enum ReferenceOptimizer {
  /// PyTorch SGD with momentum μ, coupled weight decay λ, no dampening or Nesterov, element-wise
  /// over `0..<count`: `d = g + λw`; `buf = d` when `firstStep` (the stored buffer is not read),
  /// else `buf = μ·buf + d`; `w ← w − lr·buf`. Updates `weight` and `momentumBuffer` in place.
  public static func sgdStep(
    weight: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    momentumBuffer: UnsafeMutablePointer<Float>, count: Int, learningRate: Float,
    momentum: Float, weightDecay: Float, firstStep: Bool
  ) {
    for i in 0..<count {
      let w = Double(weight[i])
      let d = Double(gradient[i]) + Double(weightDecay) * w
      let buffer = firstStep ? d : Double(momentum) * Double(momentumBuffer[i]) + d
      momentumBuffer[i] = Float(buffer)
      weight[i] = Float(w - Double(learningRate) * buffer)
    }
  }

  /// PyTorch Adam with coupled L2 weight decay λ (not AdamW) at step `t ≥ 1` (1 on a
  /// parameter's first step), element-wise over `0..<count`: `g ← g + λw`,
  /// `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`, `w ← w − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
  /// Updates `weight`, `firstMoment` and `secondMoment` in place (moments zero before step 1).
  public static func adamStep(
    weight: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
    count: Int, step t: Int, learningRate: Double, beta1: Double, beta2: Double,
    epsilon: Double, weightDecay: Double
  ) {
    precondition(t >= 1, "Adam step \(t) must be at least 1")
    let stepSize = learningRate / (1 - Foundation.pow(beta1, Double(t)))
    let correction2Root = (1 - Foundation.pow(beta2, Double(t))).squareRoot()
    for i in 0..<count {
      let w = Double(weight[i])
      let g = Double(gradient[i]) + weightDecay * w
      let m = beta1 * Double(firstMoment[i]) + (1 - beta1) * g
      let v = beta2 * Double(secondMoment[i]) + (1 - beta2) * g * g
      firstMoment[i] = Float(m)
      secondMoment[i] = Float(v)
      weight[i] = Float(w - stepSize * m / (v.squareRoot() / correction2Root + epsilon))
    }
  }
}
