import Datasets
import NN
import TensorCore

/// The gradient of a batch's mean loss computed as micro-batches spread over the processes of a
/// data-parallel job: gradient accumulation and data parallelism as one operation.
///
/// The global batch of `n` images is cut into the `K` chunks of a ``BatchShard`` (chunk `c`
/// holds rows `c·n/K ..< (c+1)·n/K`); this process runs the forward and backward pass of each
/// of its chunks with the chunk's loss weighted by `n_c / n`, sums the gradients, and one
/// all-reduce sums them over the processes. The result is the gradient of the batch's mean loss,
/// as one process computing the whole batch would get it, except that BatchNorm normalises each
/// chunk with the chunk's own statistics (as PyTorch's DistributedDataParallel normalises each
/// process's share). A chunk with no rows (a batch smaller than `K`) contributes nothing.
///
/// BatchNorm's running statistics: every chunk starts from the same buffers, and the buffers
/// end as the mean over the non-empty chunks of the values each chunk's pass left, averaged over
/// the processes too. So every process holds the same buffers after every pass, and a job of `N`
/// processes with `K` chunks computes what one process with `--micro-batches K` computes (up to
/// the order in which the chunk gradients are added, about 1e-7 relative).
///
/// With one process and one chunk the pass is exactly the plain `gradients(of:wrt:)` of the
/// batch loss: no weighting, no copies, no collectives.
public struct BatchParallelism {
  /// The processes of the job.
  public let group: ProcessGroup
  /// The chunks this process computes, out of how many.
  public let shard: BatchShard

  public init(group: ProcessGroup, shard: BatchShard) {
    precondition(shard.chunkCount % group.size == 0, "\(shard.chunkCount) micro-batches over \(group.size) processes")
    self.group = group
    self.shard = shard
  }

  /// One process computing whole batches.
  public static func single() -> BatchParallelism { BatchParallelism(group: .single(), shard: .whole) }

  /// What the forward pass of one chunk returns.
  public struct ChunkResult {
    /// The scalar the gradient is taken of: the chunk's mean loss (and any regularisation).
    public var objective: Tensor
    /// Figures reported for the batch (e.g. the main and auxiliary losses), each a mean over
    /// the chunk's images; the batch gets their image-weighted means.
    public var values: [Double]
    /// Correct top-1 predictions in the chunk.
    public var correct: Int

    public init(objective: Tensor, values: [Double], correct: Int = 0) {
      self.objective = objective
      self.values = values
      self.correct = correct
    }
  }

  /// The batch's gradient and figures, the same on every process.
  public struct Result {
    /// The gradient of the batch's mean objective with respect to each parameter.
    public var gradients: [Tensor]
    /// The image-weighted means of the chunks' `values` over the whole batch.
    public var values: [Double]
    /// Correct predictions in the whole batch.
    public var correct: Int
    /// Images in the whole batch.
    public var count: Int
  }

  /// The gradient of the mean objective of a batch of `batchCount` images.
  ///
  /// - Parameters:
  ///   - batchCount: images in the whole (global) batch.
  ///   - parameters: the tensors to differentiate with respect to.
  ///   - buffers: the BN running statistics the forward pass updates (averaged over the chunks
  ///     as described above; unused with one chunk).
  ///   - valueCount: how many `values` every chunk reports.
  ///   - forward: the forward pass of chunk `chunk` (its index in the batch, for seeding its
  ///     random masks) on `rows`, a range of the rows this process holds
  ///     (`shard.rows(batchCount:)`, counted from 0).
  /// - Throws: what `forward` throws; ``CollectiveError`` if a collective fails.
  public func gradients(
    batchCount: Int, wrt parameters: [Tensor], buffers: [Parameter], valueCount: Int,
    forward: (_ chunk: Int, _ rows: Range<Int>) throws -> ChunkResult
  ) throws -> Result {
    if shard.chunkCount == 1 {  // one process, whole batches
      let result = try forward(0, 0..<batchCount)
      return Result(gradients: TensorCore.gradients(of: result.objective, wrt: parameters), values: result.values, correct: result.correct, count: batchCount)
    }
    let offset = shard.rows(batchCount: batchCount).lowerBound
    let start = buffers.map(\.value)
    var gradientSum: [Tensor]?
    var bufferSum: [Tensor]?
    var values = [Double](repeating: 0, count: valueCount)
    var correct = 0
    for chunk in shard.chunks {
      let rows = shard.rows(ofChunk: chunk, batchCount: batchCount)
      guard !rows.isEmpty else { continue }
      if bufferSum != nil { for (buffer, value) in zip(buffers, start) { buffer.assign(value) } }
      let result = try forward(chunk, (rows.lowerBound - offset)..<(rows.upperBound - offset))
      precondition(result.values.count == valueCount, "a chunk reported \(result.values.count) values, not \(valueCount)")
      let weight = Double(rows.count) / Double(batchCount)
      let chunkGradients = TensorCore.gradients(of: result.objective * Float(weight), wrt: parameters)
      withoutGradients {
        gradientSum = gradientSum.map { zip($0, chunkGradients).map { $0 + $1 } } ?? chunkGradients
        let after = buffers.map(\.value)
        bufferSum = bufferSum.map { zip($0, after).map { $0 + $1 } } ?? after
      }
      for (index, value) in result.values.enumerated() { values[index] += value * weight }
      correct += result.correct
    }
    let reduced = try group.sum(gradientSum ?? parameters.map { Tensor.zeros($0.shape, on: $0.backend) })
    let figures = try group.sum(values + [Double(correct)])
    let summedBuffers = try group.sum(bufferSum ?? start.map { Tensor.zeros($0.shape, on: $0.backend) })
    let filledChunks = (0..<shard.chunkCount).count { !BatchShard.rows(ofChunk: $0, chunkCount: shard.chunkCount, batchCount: batchCount).isEmpty }
    withoutGradients {
      for (buffer, total) in zip(buffers, summedBuffers) { buffer.assign(total * (1 / Float(filledChunks))) }
    }
    return Result(gradients: reduced, values: Array(figures[..<valueCount]), correct: Int(figures[valueCount].rounded()), count: batchCount)
  }
}

extension BatchParallelism {
  /// Why a batch of `batchSize` cannot be cut into `microBatches` (nil: one per process)
  /// shared evenly by `processes` processes, in one line naming the flag, or nil.
  public static func problem(batchSize: Int, microBatches: Int?, processes: Int) -> String? {
    guard let microBatches else {
      return batchSize % processes == 0 ? nil : "--batch-size \(batchSize) does not divide across \(processes) processes (the global batch is split evenly among them)"
    }
    if !(1...max(1, batchSize)).contains(microBatches) { return "--micro-batches must be in 1...\(batchSize) (the batch size), got \(microBatches)" }
    if batchSize % microBatches != 0 { return "--batch-size \(batchSize) does not split into \(microBatches) equal micro-batches" }
    if microBatches % processes != 0 {
      return "--micro-batches: every batch is cut into \(microBatches) micro-batches, which \(processes) processes cannot share evenly (use a number of processes that divides \(microBatches))"
    }
    return nil
  }

  /// The share of every batch of process `group.rank` when batches are cut into
  /// `microBatches` (nil: one per process).
  /// - Throws: ``CollectiveError`` with ``problem(batchSize:microBatches:processes:)``'s line.
  public static func shared(batchSize: Int, microBatches: Int?, group: ProcessGroup) throws -> BatchParallelism {
    if let problem = problem(batchSize: batchSize, microBatches: microBatches, processes: group.size) { throw CollectiveError(problem) }
    return BatchParallelism(group: group, shard: BatchShard(rank: group.rank, ranks: group.size, microBatches: microBatches ?? group.size))
  }

  /// The share of every batch of process `group.rank` in a resumed run whose `config.json`
  /// recorded `recordedMicroBatches` (nil in runs written before micro-batches existed: one).
  public static func resumed(batchSize: Int, recordedMicroBatches: Int?, group: ProcessGroup) throws -> BatchParallelism {
    try shared(batchSize: batchSize, microBatches: recordedMicroBatches ?? 1, group: group)
  }
}
