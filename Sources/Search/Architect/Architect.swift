import NN
import TensorCore

/// A labelled batch of images: the share of one process of a global batch (all of it in a
/// job of one process).
public struct LabelledBatch: Sendable {
  /// `[N, C, H, W]` normalised images.
  public var images: Tensor
  /// `N` class indices.
  public var labels: [Int]
  /// Images in the whole batch these are rows of (`N` when the process holds all of it).
  public var globalCount: Int

  public init(images: Tensor, labels: [Int], globalCount: Int? = nil) {
    self.images = images
    self.labels = labels
    self.globalCount = globalCount ?? labels.count
  }

  /// Rows `rows` of this batch (the batch itself when that is all of it).
  public func rows(_ rows: Range<Int>) -> LabelledBatch {
    guard rows != 0..<labels.count else { return self }
    return LabelledBatch(images: withoutGradients { images.rows(rows) }, labels: Array(labels[rows]), globalCount: globalCount)
  }
}

/// The gradient of a network's mean loss on a batch (its whole global batch, however the
/// batch is spread over micro-batches and processes) with respect to some tensors.
public typealias BatchGradient = (_ batch: LabelledBatch, _ wrt: [Tensor]) throws -> [Tensor]

/// The DARTS architecture gradient (Liu et al., ICLR 2019, §2.3; SPEC §2.3–2.5).
///
/// First order (DARTS-V1) differentiates the validation loss at the current weights.
/// Second order (DARTS-V2) differentiates it at the weights after one virtual SGD step,
/// `w' = w − η(μ·buf + ∇_w L_train + λw)` with the weight optimiser's own learning rate η,
/// momentum buffer and weight decay, and approximates the implicit term with a central
/// finite difference: `dα − η·(∇_α L_train(w + εv) − ∇_α L_train(w − εv)) / 2ε` with
/// `v = ∇_{w'} L_val(w', α)` and `ε = 0.01/‖v‖`. Weights are moved by assigning whole values
/// through `Module.update(parameters:)` and restored from the saved values (never by adding
/// and subtracting in place). BN running statistics change as in the reference: the virtual
/// network's validation pass leaves the original statistics untouched (they are restored),
/// the three training-batch passes update them.
public struct Architect: Sendable {
  public enum Order: Int, Codable, Sendable {
    case first = 1
    case second = 2
  }

  public var order: Order

  public init(order: Order) { self.order = order }

  /// The gradients of the validation loss with respect to `network`'s architecture
  /// parameters (in `architectureParameters` order).
  ///
  /// - Parameters:
  ///   - gradient: the gradient of the network's loss on a batch (cross-entropy of its
  ///     logits), averaged over the whole batch however it is shared out
  ///     (``BatchParallelism``); every gradient of the unrolled step goes through it, and `ε`
  ///     is computed from the averaged `v`.
  ///   - weightOptimizer: the weight optimiser (second order reads its lr, momentum buffers
  ///     and weight decay; it is not changed).
  public func architectureGradients(
    network: Module, architecture: [(name: String, parameter: Parameter)], train: LabelledBatch,
    valid: LabelledBatch, weightOptimizer: SGD, gradient: BatchGradient
  ) throws -> [Tensor] {
    let alphas = architecture.map(\.parameter.value)
    switch order {
    case .first:
      return try gradient(valid, alphas)
    case .second:
      return try secondOrder(network: network, alphas: alphas, train: train, valid: valid, optimizer: weightOptimizer, gradient: gradient)
    }
  }

  private func secondOrder(
    network: Module, alphas: [Tensor], train: LabelledBatch, valid: LabelledBatch, optimizer: SGD,
    gradient: BatchGradient
  ) throws -> [Tensor] {
    let weights = network.namedParameters(.weight)
    let names = weights.map(\.name)
    let original = weights.map(\.parameter.value)
    let eta = optimizer.learningRate
    let (mu, lambda) = (optimizer.momentum, optimizer.weightDecay)

    // Virtual step on the training batch: w' = w − η(μ·buf + g + λw).
    let g = try gradient(train, original)
    let unrolled: [Tensor] = withoutGradients {
      zip(zip(names, original), g).map { pair, grad in
        let (name, w) = pair
        var step = grad + w * lambda
        if let buffer = optimizer.momentumBuffers[name] { step = step + buffer * mu }
        return w - step * eta
      }
    }

    // Validation loss at w' (BN statistics of this pass are discarded, as on the reference's copy).
    let savedBuffers = network.namedParameters(.buffer).map { ($0.name, $0.parameter.value) }
    try network.update(parameters: Dictionary(uniqueKeysWithValues: zip(names, unrolled)))
    let atUnrolled = network.namedParameters(.weight).map(\.parameter.value)
    let validGradients = try gradient(valid, alphas + atUnrolled)
    try network.update(parameters: Dictionary(uniqueKeysWithValues: savedBuffers))
    let dAlpha = Array(validGradients[..<alphas.count])
    let v = Array(validGradients[alphas.count...])

    // Finite-difference Hessian-vector product on the training batch at w ± εv.
    let epsilon = 0.01 / globalNorm(v)
    func alphaGradient(at sign: Float) throws -> [Tensor] {
      let moved = withoutGradients { zip(original, v).map { $0 + $1 * (sign * epsilon) } }
      try network.update(parameters: Dictionary(uniqueKeysWithValues: zip(names, moved)))
      return try gradient(train, alphas)
    }
    let plus = try alphaGradient(at: 1)
    let minus = try alphaGradient(at: -1)
    try network.update(parameters: Dictionary(uniqueKeysWithValues: zip(names, original)))
    return withoutGradients {
      zip(dAlpha, zip(plus, minus)).map { d, pm in d - (pm.0 - pm.1) * (eta / (2 * epsilon)) }
    }
  }
}
