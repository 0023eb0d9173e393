/// Fused optimiser updates: one pass over weight, gradient and state per parameter tensor.
public enum OptimizerKernels {
  /// PyTorch SGD with momentum μ, coupled weight decay λ, no dampening or Nesterov:
  /// `d = g + λw`; `buf = d` on the first step, else `buf = μ·buf + d`; `w −= lr·buf`.
  public static func sgdStep(
    weight: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    momentumBuffer: UnsafeMutablePointer<Float>, count: Int, learningRate: Float,
    momentum: Float, weightDecay: Float, firstStep: Bool
  ) {
    for i in 0..<count {
      let d = gradient[i] + weightDecay * weight[i]
      let b = firstStep ? d : momentum * momentumBuffer[i] + d
      momentumBuffer[i] = b
      weight[i] -= learningRate * b
    }
  }

  /// PyTorch Adam with coupled L2 weight decay (not AdamW), at step `t ≥ 1`:
  /// `g ← g + λw`, `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`,
  /// `w −= lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
  public static func adamStep(
    weight: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
    count: Int, step t: Int, learningRate: Double, beta1: Double, beta2: Double,
    epsilon: Double, weightDecay: Double
  ) {
    // NOTE: hyper-parameters stay Double until here, as PyTorch's Python floats do: in float32,
    // 1 − 0.999 comes out as 0.00099998713, a 1.3e-5 relative error in the second moment.
    let (b1, b2, decay, eps) = (Float(beta1), Float(beta2), Float(weightDecay), Float(epsilon))
    let (oneMinusB1, oneMinusB2) = (Float(1 - beta1), Float(1 - beta2))
    let stepSize = Float(learningRate / (1 - pow(beta1, t)))
    let correction2Root = Float((1 - pow(beta2, t)).squareRoot())
    for i in 0..<count {
      let g = gradient[i] + decay * weight[i]
      let m = b1 * firstMoment[i] + oneMinusB1 * g
      let v = b2 * secondMoment[i] + oneMinusB2 * g * g
      firstMoment[i] = m
      secondMoment[i] = v
      weight[i] -= stepSize * m / (v.squareRoot() / correction2Root + eps)
    }
  }

  /// `base` raised to a non-negative integer power.
  static func pow(_ base: Double, _ exponent: Int) -> Double {
    (0..<exponent).reduce(1.0) { r, _ in r * base }
  }
}
