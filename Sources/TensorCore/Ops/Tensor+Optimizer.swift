/// Fused optimiser updates: one pass over a parameter, its gradient and its optimiser state,
/// in place (copy-on-write: storage shared with another tensor is copied first). The updated
/// tensors drop their graph history; a parameter that was a gradient leaf stays a fresh leaf.
/// All operands must have the same shape (any shape; the update is element-wise over the
/// row-major elements) and live on the same backend.
extension Tensor {
  /// One step of PyTorch's `torch.optim.SGD` with momentum μ and coupled weight decay λ (no
  /// dampening, no Nesterov), element-wise: `d = g + λw`; `buf = d` when `firstStep` (the
  /// parameter's first step: PyTorch initialises the buffer with `d`), else
  /// `buf = μ·buf + d`; then `w ← w − lr·buf`.
  /// - Parameters:
  ///   - weight: the parameter `w`, updated.
  ///   - gradient: `g`, same shape.
  ///   - momentumBuffer: `buf`, same shape, updated (its values are ignored on the first step).
  public static func sgdMomentumStep(
    weight: inout Tensor, gradient: Tensor, momentumBuffer: inout Tensor,
    learningRate: Float, momentum: Float, weightDecay: Float, firstStep: Bool
  ) {
    let backend = checkOptimizerOperands(weight: weight, gradient: gradient, state: [momentumBuffer])
    let count = weight.count
    momentumBuffer.updateInPlace { buffer in
      weight.updateInPlace { w in
        backend.sgdStep(
          weight: w, gradient: gradient.storage, momentumBuffer: buffer, count: count,
          learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, firstStep: firstStep)
      }
    }
  }

  /// One step of PyTorch's `torch.optim.Adam` with coupled L2 weight decay λ (not AdamW) at
  /// step `t ≥ 1` (1 on a parameter's first step), element-wise: `g ← g + λw`,
  /// `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`, `w ← w − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
  /// Hyper-parameters are Double, as PyTorch's Python floats are.
  /// - Parameters:
  ///   - weight: the parameter `w`, updated.
  ///   - gradient: `g`, same shape.
  ///   - firstMoment: `m`, same shape, updated (zeros before the first step).
  ///   - secondMoment: `v`, same shape, updated (zeros before the first step).
  public static func adamStep(
    weight: inout Tensor, gradient: Tensor, firstMoment: inout Tensor, secondMoment: inout Tensor,
    step t: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
  ) {
    precondition(t >= 1, "Adam step \(t) must be at least 1")
    let backend = checkOptimizerOperands(weight: weight, gradient: gradient, state: [firstMoment, secondMoment])
    let count = weight.count
    firstMoment.updateInPlace { m in
      secondMoment.updateInPlace { v in
        weight.updateInPlace { w in
          backend.adamStep(
            weight: w, gradient: gradient.storage, firstMoment: m, secondMoment: v,
            count: count, step: t, learningRate: learningRate, beta1: beta1, beta2: beta2,
            epsilon: epsilon, weightDecay: weightDecay)
        }
      }
    }
  }

  /// The operands' common backend, after checking their shapes.
  private static func checkOptimizerOperands(weight: Tensor, gradient: Tensor, state: [Tensor]) -> any Backend {
    for other in [gradient] + state {
      precondition(other.shape == weight.shape, "optimiser operand of shape \(other.shape) for a parameter of shape \(weight.shape)")
    }
    return sharedBackend(of: [weight, gradient] + state)
  }
}
