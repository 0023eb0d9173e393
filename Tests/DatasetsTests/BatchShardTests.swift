import Datasets
import Foundation
import TensorCore
import XCTest

final class BatchShardTests: XCTestCase {
  private let backend = CPUBackend()

  private let dataset = patternDataset

  /// Crop, flip and cutout all draw random numbers.
  private let augmentation = Augmentation(padding: 2, flipProbability: 0.5, cutoutLength: 3)

  private func sampler(_ order: BatchSampler.Order, indices: Range<Int>, batchSize: Int = 8) -> BatchSampler {
    BatchSampler(
      dataset: dataset, indices: indices, batchSize: batchSize, order: order, augmentation: augmentation,
      seed: 5, stream: 1)
  }

  /// The shards of ranks `0..<ranks`, `microBatches` chunks a batch.
  private func shards(ranks: Int, microBatches: Int) -> [BatchShard] {
    (0..<ranks).map { BatchShard(rank: $0, ranks: ranks, microBatches: microBatches) }
  }

  func testChunkRowsCutTheBatchAsEvenlyAsIntegerDivisionAllows() {
    func chunks(_ k: Int, of n: Int) -> [Range<Int>] {
      (0..<k).map { BatchShard.rows(ofChunk: $0, chunkCount: k, batchCount: n) }
    }
    XCTAssertEqual(chunks(2, of: 64), [0..<32, 32..<64])
    XCTAssertEqual(chunks(2, of: 41), [0..<20, 20..<41])
    XCTAssertEqual(chunks(4, of: 3), [0..<0, 0..<1, 1..<2, 2..<3], "fewer rows than chunks: chunk 0 is empty")
    XCTAssertEqual(chunks(3, of: 8), [0..<2, 2..<5, 5..<8])
    XCTAssertEqual(chunks(1, of: 41), [0..<41])
    XCTAssertEqual(BatchShard.whole.rows(batchCount: 41), 0..<41)
    XCTAssertEqual(BatchShard.whole.rows(batchCount: 0), 0..<0)
    let shard = BatchShard(chunks: 1..<3, chunkCount: 4)
    XCTAssertEqual(shard.rows(batchCount: 41), 10..<30)
    XCTAssertEqual(shard.rows(ofChunk: 2, batchCount: 41), 20..<30)
    XCTAssertEqual(shard.rows(ofChunk: 2, batchCount: 41), BatchShard.rows(ofChunk: 2, chunkCount: 4, batchCount: 41))
  }

  func testRanksOwnConsecutiveChunksThatTileEveryBatch() throws {
    XCTAssertEqual(BatchShard(rank: 0, ranks: 1, microBatches: 1), .whole)
    XCTAssertEqual(BatchShard(rank: 1, ranks: 2, microBatches: 2), BatchShard(chunks: 1..<2, chunkCount: 2))
    XCTAssertEqual(BatchShard(rank: 1, ranks: 2, microBatches: 4), BatchShard(chunks: 2..<4, chunkCount: 4))
    XCTAssertEqual(BatchShard(rank: 2, ranks: 3, microBatches: 6), BatchShard(chunks: 4..<6, chunkCount: 6))
    XCTAssertEqual(BatchShard(rank: 0, ranks: 1, microBatches: 4), BatchShard(chunks: 0..<4, chunkCount: 4))
    XCTAssertEqual(BatchShard(rank: 1, ranks: 2, microBatches: 4).rows(batchCount: 64), 32..<64)
    XCTAssertEqual(BatchShard(rank: 1, ranks: 2, microBatches: 4).rows(ofChunk: 3, batchCount: 64), 48..<64)
    for ranks in [2, 3] {
      for microBatches in [ranks, 2 * ranks] {
        for n in [64, 41, 5, 3, 1, 0] {
          let rows = shards(ranks: ranks, microBatches: microBatches).map { $0.rows(batchCount: n) }
          XCTAssertEqual(rows.first?.lowerBound, 0)
          XCTAssertEqual(rows.last?.upperBound, n)
          for (a, b) in zip(rows, rows.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound, "\(ranks) ranks, n \(n)") }
          XCTAssertLessThanOrEqual(
            rows.map(\.count).max()! - rows.map(\.count).min()!, microBatches / ranks, "\(ranks) ranks, n \(n)")
        }
      }
    }
  }

  func testShardsRoundTripThroughJSONAndBadOnesAreRefused() throws {
    let shard = BatchShard(rank: 1, ranks: 3, microBatches: 6)
    let data = try JSONEncoder().encode(shard)
    XCTAssertEqual(try JSONDecoder().decode(BatchShard.self, from: data), shard)
    for bad in [#"{"chunks":[2,2],"chunkCount":4}"#, #"{"chunks":[3,5],"chunkCount":4}"#, #"{"chunks":[0,1],"chunkCount":0}"#] {
      XCTAssertThrowsError(try JSONDecoder().decode(BatchShard.self, from: Data(bad.utf8)), bad) { error in
        guard case DecodingError.dataCorrupted = error else { return XCTFail("\(bad): \(error)") }
      }
    }
    XCTAssertEqual("\(shard)", "chunks 2..<4 of 6")
  }

  /// Each image is transformed with a generator of its own, keyed by its row in the global batch.
  func testEachImageDrawsFromAGeneratorKeyedByItsRow() throws {
    let weights = sampler(.epochPermutation, indices: 0..<29)
    let position = BatchPosition(epoch: 2, step: 1)
    let batch = try weights.batch(at: position, on: backend)
    XCTAssertEqual(batch.images.shape, [8, 1, 6, 6])
    let rendered = AugmentedDataset(dataset, augmentation: augmentation)
    let expected = batch.indices.enumerated().flatMap { row, index in
      // Purpose 2: augmentation (BatchSampler's key for the transform of an image).
      var generator = derivedGenerator(5, 1, 2, 1, 2, UInt64(row))
      return [Float](unsafeUninitializedCapacity: 36) { buffer, count in
        rendered.render(index, using: &generator, into: buffer.baseAddress!)
        count = 36
      }
    }
    XCTAssertEqual(batch.images.scalars.map(\.bitPattern), expected.map(\.bitPattern))
    let resharded = try weights.sharded(.whole).batch(at: position, on: backend)
    XCTAssertEqual(resharded.images.scalars.map(\.bitPattern), batch.images.scalars.map(\.bitPattern))
    let unaugmented = try BatchSampler(
      dataset: dataset, indices: 0..<29, batchSize: 8, order: .epochPermutation, augmentation: .evaluation, seed: 5,
      stream: 1).batch(at: position, on: backend)
    XCTAssertEqual(unaugmented.indices, batch.indices)
    XCTAssertNotEqual(unaugmented.images.scalars, batch.images.scalars, "augmentation left the images unchanged")
  }

  func testShardBatchesConcatenateToTheWholeBatch() throws {
    // (sampler, positions): full batches of 8 and partial last batches of 5 and 1.
    let cases: [(BatchSampler, [BatchPosition])] = [
      (sampler(.epochPermutation, indices: 0..<29), [.init(epoch: 1, step: 0), .init(epoch: 1, step: 3)]),
      (sampler(.epochPermutation, indices: 0..<25), [.init(epoch: 0, step: 3)]),
      (sampler(.sequential, indices: 3..<32), [.init(epoch: 0, step: 2), .init(epoch: 0, step: 3)]),
      (sampler(.sequential, indices: 0..<25), [.init(epoch: 0, step: 3)]),
      (sampler(.freshRandom, indices: 0..<29), [.init(epoch: 3, step: 0), .init(epoch: 3, step: 9)]),
      (sampler(.freshRandom, indices: 20..<25), [.init(epoch: 0, step: 1)]),
    ]
    var counts = Set<Int>()
    for (whole, positions) in cases {
      for position in positions {
        let reference = try whole.batch(at: position, on: backend)
        let n = reference.indices.count
        counts.insert(n)
        XCTAssertEqual(reference.globalCount, n)
        XCTAssertEqual(whole.globalCount(at: position), n)
        XCTAssertEqual(reference.rows, 0..<n)
        for ranks in [2, 3] {
          for microBatches in [ranks, 2 * ranks] {
            let context = "\(whole.order) \(position), \(ranks) ranks, \(microBatches) micro-batches"
            let parts = try shards(ranks: ranks, microBatches: microBatches).map { shard in
              let part = try whole.sharded(shard).batch(at: position, on: backend)
              XCTAssertEqual(part.position, position, context)
              XCTAssertEqual(part.globalCount, n, context)
              XCTAssertEqual(part.rows, shard.rows(batchCount: n), context)
              XCTAssertEqual(part.images.shape, [part.rows.count, 1, 6, 6], context)
              XCTAssertEqual(part.indices, Array(reference.indices[part.rows]), context)
              return part
            }
            XCTAssertEqual(parts.flatMap(\.indices), reference.indices, context)
            XCTAssertEqual(parts.flatMap(\.labels), reference.labels, context)
            XCTAssertEqual(parts.flatMap(\.rows), Array(0..<n), context)
            XCTAssertEqual(
              parts.flatMap { $0.images.scalars.map(\.bitPattern) }, reference.images.scalars.map(\.bitPattern), context)
          }
        }
      }
    }
    XCTAssertEqual(counts, [8, 5, 1], "full and partial batches")
  }

  func testLoaderOfAShardDeliversTheShardBatches() throws {
    let shard = BatchShard(rank: 1, ranks: 2, microBatches: 4)
    let weights = sampler(.epochPermutation, indices: 0..<29).sharded(shard)
    XCTAssertEqual(weights.shard, shard)
    let loaded = Array(BatchLoader(sampler: weights, on: backend, start: BatchPosition(epoch: 1, step: 2), endEpoch: 3))
    XCTAssertEqual(loaded.map(\.position), [.init(epoch: 1, step: 2), .init(epoch: 1, step: 3)]
      + (0..<4).map { BatchPosition(epoch: 2, step: $0) })
    XCTAssertEqual(loaded.map(\.rows), [4..<8, 2..<5, 4..<8, 4..<8, 4..<8, 2..<5])
    for batch in loaded {
      let direct = try weights.batch(at: batch.position, on: backend)
      XCTAssertEqual(batch.indices, direct.indices)
      XCTAssertEqual(batch.labels, direct.labels)
      XCTAssertEqual(batch.globalCount, direct.globalCount)
      XCTAssertEqual(batch.rows, direct.rows)
      XCTAssertEqual(batch.images.scalars.map(\.bitPattern), direct.images.scalars.map(\.bitPattern))
    }
    // Fresh architecture batches over a schedule longer than one pass.
    let architecture = sampler(.freshRandom, indices: 29..<40).sharded(BatchShard(rank: 0, ranks: 3, microBatches: 3))
    for batch in BatchLoader(sampler: architecture, on: backend, stepsPerEpoch: 5, endEpoch: 1) {
      let direct = try architecture.batch(at: batch.position, on: backend)
      XCTAssertEqual(batch.rows, 0..<2)
      XCTAssertEqual(batch.indices, direct.indices)
      XCTAssertEqual(batch.images.scalars.map(\.bitPattern), direct.images.scalars.map(\.bitPattern))
    }
  }
}
