import DataParallel
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

  /// Trains `network` on one batch (`images: [N, C, H, W]`, this process's rows of a global
  /// batch of `globalCount` images, all of it by default) with drop path `dropPath`.
  ///
  /// The gradient of the batch's mean loss comes from `parallelism`: the whole batch at once
  /// (the default, one process), or micro-batches spread over the processes of a job, whose
  /// gradients, losses and hits are averaged over the whole batch, so that every process
  /// applies the same update. Drop-path masks: a batch computed whole draws them from
  /// `generator`; a batch cut into micro-batches draws those of micro-batch `c` from
  /// ``microBatchGenerator(_:of:)`` of `generator` and `c`, so any split of the micro-batches
  /// among processes draws the same masks (`generator` then advances by one draw).
  /// - Throws: ``NonFiniteError`` if the (averaged) loss or gradient is not finite, the same on
  ///   every process; the weights are then unchanged. ``CollectiveError`` if a collective fails.
  public mutating func callAsFunction(
    _ network: EvaluationNetwork, images: Tensor, labels: [Int], globalCount: Int? = nil, dropPath: Float,
    generator: inout SeededGenerator, parallelism: BatchParallelism = .single()
  ) throws -> Result {
    network.train()
    let hasAuxiliary = network.auxiliaryHead != nil && auxiliaryWeight > 0
    let chunked = parallelism.shard.chunkCount > 1
    let stepGenerator = generator
    let parameters = network.namedParameters(.weight)
    let batch = try parallelism.gradients(
      batchCount: globalCount ?? labels.count, wrt: parameters.map(\.parameter.value), buffers: network.parameters(.buffer), valueCount: 3
    ) { chunk, rows in
      let (part, partLabels) = (withoutGradients { images.rows(rows) }, Array(labels[rows]))
      let (logits, auxiliaryLogits): (Tensor, Tensor?)
      if chunked {
        var own = Self.microBatchGenerator(chunk, of: stepGenerator)
        (logits, auxiliaryLogits) = network(part, dropPath: dropPath, generator: &own)
      } else {
        (logits, auxiliaryLogits) = network(part, dropPath: dropPath, generator: &generator)
      }
      let main = logits.crossEntropy(labels: partLabels, labelSmoothing: labelSmoothing)
      var total = main
      var auxiliaryLoss: Float = 0
      if hasAuxiliary, let auxiliaryLogits {
        let auxiliary = auxiliaryLogits.crossEntropy(labels: partLabels, labelSmoothing: labelSmoothing)
        auxiliaryLoss = auxiliary.scalar
        total = main + auxiliary * auxiliaryWeight
      }
      let correct = topKCorrect(logits: logits, labels: partLabels, ks: [1])[0]
      return .init(objective: total, values: [Double(total.scalar), Double(main.scalar), Double(auxiliaryLoss)], correct: correct)
    }
    if chunked { _ = generator.next() }
    try NonFiniteError.check(Float(batch.values[0]), "the training loss")
    var g = batch.gradients
    guard clipGradientNorm(&g, maxNorm: gradientClip).isFinite else { throw NonFiniteError("the weight gradient") }
    optimizer.step(parameters, gradients: g)
    return Result(loss: Float(batch.values[1]), auxiliaryLoss: hasAuxiliary ? Float(batch.values[2]) : nil, correct: batch.correct)
  }

  /// The generator of the drop-path masks of micro-batch `chunk` of a step whose batch is cut
  /// into several, derived from the step's `generator` (itself keyed by the step's position)
  /// and `chunk` alone: the same on whichever process computes the micro-batch.
  public static func microBatchGenerator(_ chunk: Int, of generator: SeededGenerator) -> SeededGenerator {
    var step = generator
    return derivedGenerator(step.next(), UInt64(chunk))
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
  /// the evaluation transform); the network is left in training mode. The processes of
  /// `group` share the batches (process `r` of `N` evaluates batches `r, r + N, …`) and sum
  /// their totals, so every process gets the metrics of the whole split.
  /// - Throws: ``NonFiniteError`` if the loss is not finite (the accuracies of such a network
  ///   mean nothing); the sampler's error if a batch does not load (on every process, as a
  ///   ``JobFailure`` in a job of several).
  public static func evaluate(
    _ network: EvaluationNetwork, on sampler: BatchSampler, backend: any Backend, group: ProcessGroup = .single()
  ) throws -> SplitMetrics {
    network.eval()
    defer { network.train() }
    var generator = SeededGenerator(seed: 0)  // unused in evaluation mode
    var (lossSum, top1, top5, seen) = (0.0, 0, 0, 0)
    try group.together {
      for step in stride(from: group.rank, to: sampler.batchesPerEpoch, by: group.size) {
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
    }
    let totals = try group.sum([lossSum, Double(top1), Double(top5), Double(seen)])
    try NonFiniteError.check(totals[0], "the evaluation loss")
    let count = totals[3]
    return SplitMetrics(loss: totals[0] / count, top1: totals[1] / count, top5: totals[2] / count, count: Int(count))
  }
}
