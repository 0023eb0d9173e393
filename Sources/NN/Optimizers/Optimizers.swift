import Foundation
import TensorCore

/// SGD with momentum and coupled weight decay, exactly PyTorch's `torch.optim.SGD`
/// (SPEC §2.6): `d = g + λw`; `buf = d` on a parameter's first step, then `buf = μ·buf + d`;
/// `w ← w − lr·buf`. The learning rate is read at every step (schedules set it per epoch).
///
/// State (the momentum buffers) is keyed by parameter path, so it round-trips through
/// checkpoints and matches the parameters it belongs to by name.
public struct SGD: Sendable {
  public var learningRate: Float
  public var momentum: Float
  public var weightDecay: Float
  /// Momentum buffer per parameter path (absent before a parameter's first step).
  public var momentumBuffers: [String: Tensor] = [:]

  public init(learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.weightDecay = weightDecay
  }

  /// Applies one step to `parameters` with `gradients` (same order and shapes).
  public mutating func step(_ parameters: [(name: String, parameter: Parameter)], gradients: [Tensor]) {
    precondition(parameters.count == gradients.count, "\(parameters.count) parameters but \(gradients.count) gradients")
    for ((name, parameter), gradient) in zip(parameters, gradients) {
      let first = momentumBuffers[name] == nil
      var buffer = momentumBuffers.removeValue(forKey: name) ?? Tensor.zeros(gradient.shape, on: gradient.backend)
      Tensor.sgdMomentumStep(
        weight: &parameter.value, gradient: gradient, momentumBuffer: &buffer,
        learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, firstStep: first)
      momentumBuffers[name] = buffer
    }
  }
}

/// Adam with coupled L2 weight decay (not AdamW), exactly PyTorch's `torch.optim.Adam`
/// (Kingma & Ba 2015; SPEC §2.6): used for DARTS architecture parameters with
/// betas (0.5, 0.999) and weight decay 1e-3.
public struct Adam: Sendable {
  public var learningRate: Double
  public var beta1: Double
  public var beta2: Double
  public var epsilon: Double
  public var weightDecay: Double
  /// Per parameter path: first and second moment estimates and the step count.
  public var firstMoments: [String: Tensor] = [:]
  public var secondMoments: [String: Tensor] = [:]
  public var steps: [String: Int] = [:]

  public init(learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }

  /// Applies one step to `parameters` with `gradients` (same order and shapes).
  public mutating func step(_ parameters: [(name: String, parameter: Parameter)], gradients: [Tensor]) {
    precondition(parameters.count == gradients.count, "\(parameters.count) parameters but \(gradients.count) gradients")
    for ((name, parameter), gradient) in zip(parameters, gradients) {
      var m = firstMoments.removeValue(forKey: name) ?? Tensor.zeros(gradient.shape, on: gradient.backend)
      var v = secondMoments.removeValue(forKey: name) ?? Tensor.zeros(gradient.shape, on: gradient.backend)
      let t = (steps[name] ?? 0) + 1
      Tensor.adamStep(
        weight: &parameter.value, gradient: gradient, firstMoment: &m, secondMoment: &v, step: t,
        learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
      firstMoments[name] = m
      secondMoments[name] = v
      steps[name] = t
    }
  }
}

/// Scales `gradients` so their global L2 norm is at most `maxNorm`, exactly PyTorch's
/// `clip_grad_norm_`: `coef = maxNorm / (norm + 1e-6)`, applied only when `coef < 1`.
/// - Returns: the norm before clipping.
@discardableResult
public func clipGradientNorm(_ gradients: inout [Tensor], maxNorm: Float) -> Float {
  let norm = globalNorm(gradients)
  let coefficient = maxNorm / (norm + 1e-6)
  if coefficient < 1 {
    gradients = withoutGradients { gradients.map { $0 * coefficient } }
  }
  return norm
}

/// `√(Σ_i ‖t_i‖²)` over all tensors, accumulated in Double.
public func globalNorm(_ tensors: [Tensor]) -> Float {
  Float(tensors.reduce(0.0) { $0 + $1.sumOfSquares }.squareRoot())
}

/// Cosine annealing per epoch (Loshchilov & Hutter, SGDR 2017) in its closed form
/// `lr(e) = lr_min + ½(lr₀ − lr_min)(1 + cos(π e / T))` (SPEC §2.7): epoch 0 uses `lr₀` and
/// `lr_min` is approached but not reached within `e < T`.
public struct CosineAnnealing: Codable, Sendable, Equatable {
  public var initial: Double
  public var minimum: Double
  public var epochs: Int

  public init(initial: Double, minimum: Double, epochs: Int) {
    self.initial = initial
    self.minimum = minimum
    self.epochs = epochs
  }

  public func learningRate(epoch: Int) -> Double {
    minimum + 0.5 * (initial - minimum) * (1 + cos(Double.pi * Double(epoch) / Double(epochs)))
  }
}
