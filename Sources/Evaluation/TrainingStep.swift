import Datasets
import NN
import TensorCore

/// One training step of an evaluation network (SPEC §6.1, §6.2): loss = CE(main) + w·CE(aux)
/// (label-smoothed when ε > 0), gradients of every weight (auxiliary head included), global-norm
/// clip, SGD.
public struct TrainingStep: Sendable {
  public var optimizer: SGD
  public var gradientClip: Float
  public var auxiliaryWeight: Float
  public var labelSmoothing: Float

  public init(optimizer: SGD, gradientClip: Float = 5, auxiliaryWeight: Float = 0.4, labelSmoothing: Float = 0) {
    self.optimizer = optimizer
    self.gradientClip = gradientClip
    self.auxiliaryWeight = auxiliaryWeight
    self.labelSmoothing = labelSmoothing
  }

  /// What one step measured.
  public struct Result: Sendable {
    /// The main loss, the auxiliary loss (nil without the head) and top-1 hits of the batch.
    public var loss: Float
    public var auxiliaryLoss: Float?
    public var correct: Int
  }

  /// Trains `network` on one batch (`images: [N, C, H, W]`) with drop path `dropPath`, whose
  /// masks come from `generator`.
  /// - Throws: ``NonFiniteError`` if the loss or the gradient is not finite; the weights are
  ///   then unchanged.
  public mutating func callAsFunction(
    _ network: EvaluationNetwork, images: Tensor, labels: [Int], dropPath: Float, generator: inout SeededGenerator
  ) throws -> Result {
    network.train()
    let (logits, auxiliaryLogits) = network(images, dropPath: dropPath, generator: &generator)
    let main = logits.crossEntropy(labels: labels, labelSmoothing: labelSmoothing)
    var total = main
    var auxiliaryLoss: Float?
    if let auxiliaryLogits, auxiliaryWeight > 0 {
      let auxiliary = auxiliaryLogits.crossEntropy(labels: labels, labelSmoothing: labelSmoothing)
      auxiliaryLoss = auxiliary.scalar
      total = main + auxiliary * auxiliaryWeight
    }
    try NonFiniteError.check(total.scalar, "the training loss")
    let parameters = network.namedParameters(.weight)
    var g = gradients(of: total, wrt: parameters.map(\.parameter.value))
    guard clipGradientNorm(&g, maxNorm: gradientClip).isFinite else { throw NonFiniteError("the weight gradient") }
    optimizer.step(parameters, gradients: g)
    return Result(loss: main.scalar, auxiliaryLoss: auxiliaryLoss, correct: topKCorrect(logits: logits, labels: labels, ks: [1])[0])
  }
}

/// Loss and top-1 / top-5 accuracy of a network on a whole split in evaluation mode (running
/// BN statistics, no drop path, no auxiliary head; plain cross-entropy as the references
/// report it).
public struct SplitMetrics: Sendable, Equatable {
  public var loss: Double
  public var top1: Double
  public var top5: Double
  public var count: Int

  /// Evaluates `network` on every batch of `sampler` (its order should be `.sequential` with
  /// the evaluation transform); the network is left in training mode.
  /// - Throws: ``NonFiniteError`` if the loss is not finite (the accuracies of such a network
  ///   mean nothing); the sampler's error if a batch does not load.
  public static func evaluate(_ network: EvaluationNetwork, on sampler: BatchSampler, backend: any Backend) throws -> SplitMetrics {
    network.eval()
    defer { network.train() }
    var generator = SeededGenerator(seed: 0)  // unused in evaluation mode
    var (lossSum, top1, top5, seen) = (0.0, 0, 0, 0)
    for step in 0..<sampler.batchesPerEpoch {
      let batch = try sampler.batch(at: BatchPosition(epoch: 0, step: step), on: backend)
      withoutGradients {
        let logits = network(batch.images, generator: &generator).logits
        lossSum += Double(logits.crossEntropy(labels: batch.labels).scalar) * Double(batch.labels.count)
        let hits = topKCorrect(logits: logits, labels: batch.labels, ks: [1, 5])
        top1 += hits[0]
        top5 += hits[1]
        seen += batch.labels.count
      }
    }
    try NonFiniteError.check(lossSum, "the evaluation loss")
    return SplitMetrics(loss: lossSum / Double(seen), top1: Double(top1) / Double(seen), top5: Double(top5) / Double(seen), count: seen)
  }
}
