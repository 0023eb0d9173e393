/// The part of every global batch one process computes, when batches are split across
/// processes (data-parallel ranks) and micro-batches (gradient accumulation).
///
/// A global batch of `n` images is cut into `chunkCount` (K) consecutive micro-batches, the
/// *chunks*: chunk `c` holds rows `c·n/K ..< (c+1)·n/K` (integer division). The chunks of a
/// full batch are equal when K divides n; those of a partial last batch differ by at most one
/// row, and a chunk is empty when n < K. A shard owns the contiguous chunks `chunks`, so the
/// rows it holds are contiguous too, and the shards of all processes tile every batch.
///
/// ```swift
/// // 2 ranks, 4 micro-batches: rank 1 computes chunks 2 and 3, rows 32..<64 of 64.
/// let shard = BatchShard(rank: 1, ranks: 2, microBatches: 4)
/// shard.rows(batchCount: 64)              // 32..<64
/// shard.rows(ofChunk: 3, batchCount: 64)  // 48..<64
/// ```
public struct BatchShard: Hashable, Codable, Sendable, CustomStringConvertible {
  /// The chunks this process computes, a non-empty range inside `0..<chunkCount`.
  public let chunks: Range<Int>
  /// K, the micro-batches every global batch is cut into.
  public let chunkCount: Int

  /// Chunks `chunks` of batches cut into `chunkCount` chunks.
  /// - Precondition: `chunkCount ≥ 1` and `chunks` is non-empty and inside `0..<chunkCount`.
  public init(chunks: Range<Int>, chunkCount: Int) {
    precondition(Self.isValid(chunks: chunks, chunkCount: chunkCount), "chunks \(chunks) of \(chunkCount)")
    self.chunks = chunks
    self.chunkCount = chunkCount
  }

  /// The whole batch: chunk 0 of 1.
  public static let whole = BatchShard(chunks: 0..<1, chunkCount: 1)

  /// The shard of process `rank` of `ranks` when every batch is cut into `microBatches`
  /// chunks: with `m = microBatches / ranks`, chunks `rank·m ..< (rank+1)·m`.
  /// - Precondition: `0 ≤ rank < ranks` and `microBatches` is a positive multiple of `ranks`.
  public init(rank: Int, ranks: Int, microBatches: Int) {
    precondition(ranks > 0 && (0..<ranks).contains(rank), "rank \(rank) of \(ranks)")
    precondition(microBatches > 0 && microBatches % ranks == 0, "\(microBatches) micro-batches over \(ranks) ranks")
    let perRank = microBatches / ranks
    self.init(chunks: (rank * perRank)..<((rank + 1) * perRank), chunkCount: microBatches)
  }

  /// The rows of chunk `c` of a batch of `n` rows cut into `chunkCount` chunks:
  /// `c·n/chunkCount ..< (c+1)·n/chunkCount`.
  /// - Precondition: `0 ≤ c < chunkCount` and `n ≥ 0`.
  public static func rows(ofChunk c: Int, chunkCount: Int, batchCount n: Int) -> Range<Int> {
    precondition(chunkCount > 0 && (0..<chunkCount).contains(c) && n >= 0, "chunk \(c) of \(chunkCount) of a batch of \(n)")
    return (c * n / chunkCount)..<((c + 1) * n / chunkCount)
  }

  /// The rows of chunk `c` (any of the `chunkCount`, usually one of `chunks`) of a batch of
  /// `n`, numbered in the global batch. Subtract `rows(batchCount: n).lowerBound` for the rows
  /// of the shard's own `Batch`.
  public func rows(ofChunk c: Int, batchCount n: Int) -> Range<Int> {
    Self.rows(ofChunk: c, chunkCount: chunkCount, batchCount: n)
  }

  /// The rows of a batch of `n` this shard holds: the union of its chunks,
  /// `chunks.lowerBound·n/K ..< chunks.upperBound·n/K`.
  public func rows(batchCount n: Int) -> Range<Int> {
    precondition(n >= 0, "a batch of \(n)")
    return (chunks.lowerBound * n / chunkCount)..<(chunks.upperBound * n / chunkCount)
  }

  public var description: String { "chunks \(chunks.lowerBound)..<\(chunks.upperBound) of \(chunkCount)" }

  private static func isValid(chunks: Range<Int>, chunkCount: Int) -> Bool {
    chunkCount >= 1 && !chunks.isEmpty && chunks.lowerBound >= 0 && chunks.upperBound <= chunkCount
  }

  private enum CodingKeys: String, CodingKey { case chunks, chunkCount }

  /// Decodes a shard, throwing `DecodingError.dataCorrupted` (rather than trapping) for chunks
  /// that are empty or outside `0..<chunkCount`.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let chunks = try container.decode(Range<Int>.self, forKey: .chunks)
    let chunkCount = try container.decode(Int.self, forKey: .chunkCount)
    guard Self.isValid(chunks: chunks, chunkCount: chunkCount) else {
      throw DecodingError.dataCorruptedError(
        forKey: .chunks, in: container, debugDescription: "chunks \(chunks) of \(chunkCount)")
    }
    self.init(chunks: chunks, chunkCount: chunkCount)
  }
}
