import TensorCore

/// A place in the batch schedule: step `step` (0-based) of epoch `epoch` (0-based).
public struct BatchPosition: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
  /// Epoch number, from 0.
  public var epoch: Int
  /// Step within the epoch, from 0.
  public var step: Int

  /// The position of step `step` of epoch `epoch`.
  public init(epoch: Int, step: Int) {
    self.epoch = epoch
    self.step = step
  }

  /// The position after this one in a schedule of `stepsPerEpoch` steps per epoch.
  public func advanced(stepsPerEpoch: Int) -> BatchPosition {
    step + 1 < stepsPerEpoch
      ? BatchPosition(epoch: epoch, step: step + 1) : BatchPosition(epoch: epoch + 1, step: 0)
  }

  public static func < (a: BatchPosition, b: BatchPosition) -> Bool {
    (a.epoch, a.step) < (b.epoch, b.step)
  }

  public var description: String { "epoch \(epoch) step \(step)" }
}

/// A batch of images ready for the network: the rows `rows` of the global batch at `position`
/// that the sampler's `BatchShard` holds (all of them for `BatchShard.whole`).
public struct Batch: Sendable {
  /// Transformed images, `[rows.count, channels, height, width]` float32; image `i` is row
  /// `rows.lowerBound + i` of the global batch.
  public let images: Tensor
  /// Class of each image.
  public let labels: [Int]
  /// Dataset index of each image.
  public let indices: [Int]
  /// Where in the schedule this batch belongs.
  public let position: BatchPosition
  /// n, the images of the global batch at `position` over all shards: the batch size, or fewer
  /// for the last batch of an epoch.
  public let globalCount: Int
  /// The rows of the global batch held here, inside `0..<globalCount` (empty when the shard's
  /// chunks are: fewer images than chunks).
  public let rows: Range<Int>
}

/// Which images make up batch `(epoch, step)` of an index range, and how they are transformed.
///
/// Every random choice of a batch comes from a generator seeded by hashing where it is made:
/// the epoch's permutation from `(seed, stream, epoch)`, the fresh random draw from
/// `(seed, stream, epoch, step)`, and the crop, flip and cutout of the image in row `r` of the
/// global batch from `(seed, stream, epoch, step, r)`, a generator of its own for each image. A
/// batch is therefore a pure function of its position: a run resumed at `(epoch, step)` sees
/// exactly the batches of an uninterrupted run, however batches are prefetched. Give samplers
/// that share a seed different `stream`s (e.g. weights 0, architecture 1) so their choices are
/// independent.
///
/// A sampler with a `shard` other than `.whole` delivers only the shard's rows of each global
/// batch (`BatchShard.rows(batchCount:)`). Since no image's randomness depends on the rows
/// before it, the batches of the shards of all processes, concatenated in chunk order, are
/// bit-identical to the whole batch.
public struct BatchSampler: Sendable {
  /// The three batch orders of the search and evaluation loops.
  public enum Order: String, Codable, Sendable {
    /// Each epoch is a random permutation of the indices, cut into consecutive batches; the
    /// last, partial batch is kept (DARTS weight batches, SPEC §2.1).
    case epochPermutation
    /// Each batch is `batchSize` distinct random indices, drawn afresh at every position: the
    /// first batch of a fresh shuffle (DARTS `next(iter(valid_queue))`, SPEC §2.1).
    case freshRandom
    /// Indices in order, `batchSize` at a time (evaluation). The epoch does not matter.
    case sequential
  }

  /// The images sampled from, with their transform.
  public let images: any LabelledImages
  /// The dataset indices used (e.g. one half of a `SearchSplit`).
  public let indices: Range<Int>
  /// Images per batch (the last batch of an epoch may have fewer).
  public let batchSize: Int
  /// How indices are picked.
  public let order: Order
  /// The run's seed.
  public let seed: UInt64
  /// Distinguishes samplers sharing a seed.
  public let stream: UInt64
  /// The rows of every global batch this sampler delivers.
  public let shard: BatchShard

  /// - Precondition: `indices` is non-empty and inside `images`; `batchSize > 0`.
  public init(
    images: any LabelledImages, indices: Range<Int>, batchSize: Int, order: Order, seed: UInt64, stream: UInt64 = 0,
    shard: BatchShard = .whole
  ) {
    precondition(!indices.isEmpty && indices.upperBound <= images.count, "indices \(indices) of \(images.count)")
    precondition(batchSize > 0, "batch size \(batchSize)")
    self.images = images
    self.indices = indices
    self.batchSize = batchSize
    self.order = order
    self.seed = seed
    self.stream = stream
    self.shard = shard
  }

  /// Batches of an in-memory dataset transformed by `augmentation` (`.evaluation` for no
  /// randomness).
  public init(
    dataset: ImageDataset, indices: Range<Int>, batchSize: Int, order: Order,
    augmentation: Augmentation, seed: UInt64, stream: UInt64 = 0, shard: BatchShard = .whole
  ) {
    self.init(
      images: AugmentedDataset(dataset, augmentation: augmentation), indices: indices, batchSize: batchSize,
      order: order, seed: seed, stream: stream, shard: shard)
  }

  /// This sampler delivering the rows of `shard` instead: the same global batches.
  public func sharded(_ shard: BatchShard) -> BatchSampler {
    BatchSampler(
      images: images, indices: indices, batchSize: batchSize, order: order, seed: seed, stream: stream, shard: shard)
  }

  /// Batches in one pass over `indices`: ⌈count / batchSize⌉ (391 for 25,000 at 64).
  public var batchesPerEpoch: Int { (indices.count + batchSize - 1) / batchSize }

  /// n, the images of the global batch `position` over all shards: `batchSize`, or fewer for
  /// the last batch of an epoch (or for `.freshRandom` from fewer indices).
  public func globalCount(at position: BatchPosition) -> Int { window(at: position).count }

  /// The dataset indices of the global batch `position` (all shards, `globalCount(at:)` of
  /// them, in row order).
  public func indices(at position: BatchPosition) -> [Int] {
    indices(at: position, epochPermutation: order == .epochPermutation ? permutation(epoch: position.epoch) : [])
  }

  /// The sampler position that step `position` of a schedule of `stepsPerEpoch` steps reads.
  ///
  /// An epoch that fits in one pass reads its own position. A longer epoch of an
  /// `.epochPermutation` sampler restarts the permutation whenever it is used up, as a data
  /// iterator re-created when exhausted does (P-DARTS reads its architecture half this way,
  /// SPEC §2.1): with `passes = ⌈stepsPerEpoch / batchesPerEpoch⌉`, step `s` of epoch `e` reads
  /// batch `s mod batchesPerEpoch` of the sampler's epoch `e·passes + s / batchesPerEpoch`, so
  /// every pass is a fresh permutation and no two schedule positions share their randomness.
  /// The other orders read any step directly.
  public func sourcePosition(of position: BatchPosition, stepsPerEpoch: Int) -> BatchPosition {
    guard order == .epochPermutation, stepsPerEpoch > batchesPerEpoch else { return position }
    let passes = (stepsPerEpoch + batchesPerEpoch - 1) / batchesPerEpoch
    return BatchPosition(
      epoch: position.epoch * passes + position.step / batchesPerEpoch, step: position.step % batchesPerEpoch)
  }

  /// The shard's rows of batch `position`, assembled on `backend`.
  /// - Throws: `DatasetError` naming the file of an image that cannot be read (image folders).
  public func batch(at position: BatchPosition, on backend: any Backend) throws -> Batch {
    try assemble(position, indices: indices(at: position), on: backend)
  }

  // MARK: Internals shared with BatchLoader

  /// What a random choice is for, so that the choices of one position are independent.
  private enum Purpose: UInt64 {
    case indices = 1
    case augmentation = 2
  }

  /// The dataset indices of epoch `epoch` in the order `.epochPermutation` visits them.
  func permutation(epoch: Int) -> [Int] {
    var generator = derivedGenerator(seed, stream, UInt64(truncatingIfNeeded: epoch), .max, Purpose.indices.rawValue)
    return shuffledPrefix(count: indices.count, length: indices.count, using: &generator)
      .map { $0 + indices.lowerBound }
  }

  /// The places of the global batch `position` in the order it reads: a window of the epoch's
  /// permutation (`.epochPermutation`) or of `indices` (`.sequential`), the start of a fresh
  /// permutation (`.freshRandom`).
  private func window(at position: BatchPosition) -> Range<Int> {
    precondition(position.step >= 0 && (order == .freshRandom || position.step < batchesPerEpoch),
                 "\(position) beyond the \(batchesPerEpoch) batches of an epoch")
    return order == .freshRandom
      ? 0..<min(batchSize, indices.count)
      : (position.step * batchSize)..<min((position.step + 1) * batchSize, indices.count)
  }

  /// The indices of the global batch `position`, given `permutation(epoch: position.epoch)` for
  /// `.epochPermutation` (ignored by the other orders).
  func indices(at position: BatchPosition, epochPermutation: [Int]) -> [Int] {
    let window = window(at: position)
    switch order {
    case .epochPermutation:
      return Array(epochPermutation[window])
    case .sequential:
      return window.map { $0 + indices.lowerBound }
    case .freshRandom:
      var generator = derivedGenerator(
        seed, stream, UInt64(truncatingIfNeeded: position.epoch), UInt64(position.step),
        Purpose.indices.rawValue)
      return shuffledPrefix(count: indices.count, length: window.count, using: &generator)
        .map { $0 + indices.lowerBound }
    }
  }

  /// The shard's rows of the global batch of `indices`, transformed with the random choices of
  /// `source` (default `position`) and their rows, as the batch of `position`.
  func assemble(
    _ position: BatchPosition, source: BatchPosition? = nil, indices: [Int], on backend: any Backend
  ) throws -> Batch {
    let source = source ?? position
    let rows = shard.rows(batchCount: indices.count)
    let shape = images.imageShape
    let imageSize = shape.reduce(1, *)
    let values = try [Float](unsafeUninitializedCapacity: rows.count * imageSize) { buffer, initialized in
      for row in rows {
        var generator = derivedGenerator(
          seed, stream, UInt64(truncatingIfNeeded: source.epoch), UInt64(source.step),
          Purpose.augmentation.rawValue, UInt64(row))
        try images.render(
          indices[row], using: &generator, into: buffer.baseAddress! + (row - rows.lowerBound) * imageSize)
      }
      initialized = rows.count * imageSize
    }
    return Batch(
      images: Tensor(shape: [rows.count] + shape, scalars: values, on: backend),
      labels: rows.map { images.label(indices[$0]) }, indices: Array(indices[rows]), position: position,
      globalCount: indices.count, rows: rows)
  }
}
