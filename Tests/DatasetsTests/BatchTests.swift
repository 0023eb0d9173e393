import Datasets
import Foundation
import TensorCore
import XCTest

final class BatchTests: XCTestCase {
  private let backend = CPUBackend()

  private let dataset = patternDataset

  private let augmentation = Augmentation(padding: 2, flipProbability: 0.5, cutoutLength: 3)

  private func sampler(
    _ order: BatchSampler.Order, indices: Range<Int> = 0..<25, batchSize: Int = 8,
    augmentation: Augmentation? = nil, seed: UInt64 = 2, stream: UInt64 = 0
  ) -> BatchSampler {
    BatchSampler(
      dataset: dataset, indices: indices, batchSize: batchSize, order: order,
      augmentation: augmentation ?? self.augmentation, seed: seed, stream: stream)
  }

  private func assertSame(_ a: Batch, _ b: Batch, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.position, b.position, file: file, line: line)
    XCTAssertEqual(a.indices, b.indices, file: file, line: line)
    XCTAssertEqual(a.labels, b.labels, file: file, line: line)
    XCTAssertEqual(a.images.shape, b.images.shape, file: file, line: line)
    XCTAssertEqual(a.images.scalars.map(\.bitPattern), b.images.scalars.map(\.bitPattern), file: file, line: line)
  }

  func testSearchSplitSizes() {
    let full = SearchSplit(count: 50_000)
    XCTAssertEqual(full.weights, 0..<25_000)
    XCTAssertEqual(full.architecture, 25_000..<50_000)
    let limited = SearchSplit(count: 50_000, trainPortion: 0.5, limit: 1000)
    XCTAssertEqual(limited.weights, 0..<500)
    XCTAssertEqual(limited.architecture, 500..<1000)
    let uneven = SearchSplit(count: 11, trainPortion: 0.3)
    XCTAssertEqual(uneven.weights, 0..<3)  // ⌊3.3⌋
    XCTAssertEqual(uneven.architecture, 3..<11)
    XCTAssertEqual(SearchSplit(count: 10, limit: 100).architecture, 5..<10)
    let darts = sampler(.epochPermutation)
    XCTAssertEqual(darts.batchesPerEpoch, 4)
    XCTAssertEqual(
      BatchSampler(dataset: dataset, indices: 0..<50, batchSize: 64, order: .sequential,
                   augmentation: .evaluation, seed: 0).batchesPerEpoch, 1)
  }

  func testEpochVisitsEveryIndexOnceAndKeepsTheLastPartialBatch() {
    let weights = sampler(.epochPermutation)
    var epochs: [[Int]] = []
    for epoch in 0..<3 {
      let batches = (0..<weights.batchesPerEpoch).map { weights.indices(at: BatchPosition(epoch: epoch, step: $0)) }
      XCTAssertEqual(batches.map(\.count), [8, 8, 8, 1])
      XCTAssertEqual(batches.joined().sorted(), Array(0..<25))
      epochs.append(Array(batches.joined()))
    }
    XCTAssertNotEqual(epochs[0], epochs[1])
    XCTAssertNotEqual(epochs[1], epochs[2])
    XCTAssertNotEqual(epochs[0], Array(0..<25), "not shuffled")
  }

  func testBatchHoldsTheTransformedImagesAndLabels() throws {
    let batch = try sampler(.epochPermutation, augmentation: .evaluation).batch(at: BatchPosition(epoch: 1, step: 3), on: backend)
    XCTAssertEqual(batch.images.shape, [1, 1, 6, 6])
    XCTAssertEqual(batch.labels, batch.indices.map { $0 % 10 })
    let identity = AugmentationDraw(cropTop: 0, cropLeft: 0, flip: false, cutoutCenter: nil)
    XCTAssertEqual(batch.images.scalars, Augmentation.evaluation.apply(identity, toImage: batch.indices[0], of: dataset))
    // Augmented images differ from the plain ones but keep their labels.
    let augmented = try sampler(.epochPermutation).batch(at: BatchPosition(epoch: 1, step: 0), on: backend)
    let plain = try sampler(.epochPermutation, augmentation: .evaluation).batch(at: BatchPosition(epoch: 1, step: 0), on: backend)
    XCTAssertEqual(augmented.indices, plain.indices)
    XCTAssertEqual(augmented.images.shape, [8, 1, 6, 6])
    XCTAssertNotEqual(augmented.images.scalars, plain.images.scalars)
  }

  func testBatchesDependOnlyOnSeedStreamAndPosition() throws {
    let position = BatchPosition(epoch: 3, step: 1)
    for order in [BatchSampler.Order.epochPermutation, .freshRandom, .sequential] {
      let a = try sampler(order).batch(at: position, on: backend)
      // A separately built sampler, asked after other batches: the same bits.
      let other = sampler(order)
      _ = try other.batch(at: BatchPosition(epoch: 0, step: 0), on: backend)
      assertSame(a, try other.batch(at: position, on: backend))
      // The augmentation changes with the epoch, the seed and the stream.
      for changed in try [
        sampler(order).batch(at: BatchPosition(epoch: 4, step: 1), on: backend),
        sampler(order, seed: 3).batch(at: position, on: backend),
        sampler(order, stream: 1).batch(at: position, on: backend),
      ] {
        XCTAssertNotEqual(a.images.scalars, changed.images.scalars, "\(order)")
        if order != .sequential { XCTAssertNotEqual(a.indices, changed.indices, "\(order)") }
      }
    }
  }

  func testFreshRandomBatchesAreDistinctDrawsFromTheirRange() {
    let architecture = sampler(.freshRandom, indices: 25..<50)
    var seen = Set<Int>()
    var previous: [Int] = []
    for step in 0..<20 {  // beyond batchesPerEpoch: the schedule decides the steps
      let indices = architecture.indices(at: BatchPosition(epoch: 0, step: step))
      XCTAssertEqual(indices.count, 8)
      XCTAssertEqual(Set(indices).count, 8, "repeated index within a batch")
      XCTAssertTrue(indices.allSatisfy { (25..<50).contains($0) })
      XCTAssertNotEqual(indices, previous)
      previous = indices
      seen.formUnion(indices)
    }
    XCTAssertEqual(seen, Set(25..<50), "20 draws of 8 should reach all 25 indices")
    XCTAssertEqual(sampler(.freshRandom, indices: 45..<50).indices(at: BatchPosition(epoch: 0, step: 0)).count, 5)
  }

  func testSequentialBatchesFollowIndexOrder() {
    let evaluation = sampler(.sequential, indices: 0..<50, batchSize: 16, augmentation: .evaluation)
    let batches = (0..<evaluation.batchesPerEpoch).map { evaluation.indices(at: BatchPosition(epoch: 7, step: $0)) }
    XCTAssertEqual(batches, [Array(0..<16), Array(16..<32), Array(32..<48), [48, 49]])
  }

  func testLoaderMatchesDirectComputationAndResumesExactly() throws {
    let weights = sampler(.epochPermutation)
    let full = Array(BatchLoader(sampler: weights, on: backend, endEpoch: 3, prefetch: 2))
    XCTAssertEqual(full.count, 12)
    XCTAssertEqual(full.last?.position, BatchPosition(epoch: 2, step: 3))
    for batch in full { assertSame(batch, try weights.batch(at: batch.position, on: backend)) }
    let resumed = Array(BatchLoader(sampler: weights, on: backend, start: BatchPosition(epoch: 1, step: 2), endEpoch: 3))
    XCTAssertEqual(resumed.count, 6)
    for (a, b) in zip(resumed, full.suffix(6)) { assertSame(a, b) }

    // Architecture batches follow the weight schedule.
    let architecture = sampler(.freshRandom, indices: 25..<50, stream: 1)
    let loader = BatchLoader(sampler: architecture, on: backend, stepsPerEpoch: 7, endEpoch: 2)
    let positions = loader.map(\.position)
    XCTAssertEqual(positions, (0..<2).flatMap { e in (0..<7).map { BatchPosition(epoch: e, step: $0) } })
  }

  func testLongerEpochsRestartThePermutationWhenItIsUsedUp() throws {
    // 12 architecture images in batches of 8: 2 batches a pass; 5 steps an epoch take 3 passes.
    let architecture = sampler(.epochPermutation, indices: 25..<37, stream: 1)
    XCTAssertEqual(architecture.sourcePosition(of: BatchPosition(epoch: 1, step: 3), stepsPerEpoch: 5),
                   BatchPosition(epoch: 4, step: 1))
    XCTAssertEqual(architecture.sourcePosition(of: BatchPosition(epoch: 1, step: 1), stepsPerEpoch: 2),
                   BatchPosition(epoch: 1, step: 1), "an epoch of one pass reads itself")
    let full = Array(BatchLoader(sampler: architecture, on: backend, stepsPerEpoch: 5, endEpoch: 2))
    XCTAssertEqual(full.map(\.position), (0..<2).flatMap { e in (0..<5).map { BatchPosition(epoch: e, step: $0) } })
    XCTAssertEqual(full.map(\.indices.count), [8, 4, 8, 4, 8, 8, 4, 8, 4, 8])
    for epoch in 0..<2 {
      let batches = full[(epoch * 5)..<(epoch * 5 + 5)].map(\.indices)
      let passes = [batches[0] + batches[1], batches[2] + batches[3]]
      for pass in passes { XCTAssertEqual(pass.sorted(), Array(25..<37), "each pass covers the half once") }
      XCTAssertNotEqual(passes[0], passes[1], "each pass is a new permutation")
    }
    for batch in full {
      let source = architecture.sourcePosition(of: batch.position, stepsPerEpoch: 5)
      let direct = try architecture.batch(at: source, on: backend)
      XCTAssertEqual(batch.indices, direct.indices)
      XCTAssertEqual(batch.images.scalars.map(\.bitPattern), direct.images.scalars.map(\.bitPattern))
    }
    let resumed = Array(BatchLoader(sampler: architecture, on: backend, start: BatchPosition(epoch: 1, step: 3), stepsPerEpoch: 5, endEpoch: 2))
    for (a, b) in zip(resumed, full.suffix(2)) { assertSame(a, b) }
  }

  func testLoaderStopsItsThreadWhenCancelledOrDropped() throws {
    let weights = sampler(.epochPermutation)
    let loader = BatchLoader(sampler: weights, on: backend, prefetch: 2)
    XCTAssertNotNil(loader.next())
    loader.cancel()
    XCTAssertNil(loader.next())

    #if os(Linux)
      func threads() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("Threads:") })
        return try XCTUnwrap(Int(line.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)))
      }
      // Compared with the count while the loaders live, not with an earlier baseline: threads
      // of loaders dropped by earlier tests may still be on their way out.
      var alive = 0
      do {
        let loaders = (0..<4).map { _ in BatchLoader(sampler: weights, on: backend, prefetch: 2) }
        for loader in loaders { XCTAssertNotNil(loader.next()) }  // endless schedules, queues full
        alive = try withExtendedLifetime(loaders) { try threads() }
      }
      // The loaders are gone: their four threads have returned (the kernel may lag a moment).
      let deadline = Date().addingTimeInterval(2)
      while try threads() > alive - 4, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
      XCTAssertLessThanOrEqual(try threads(), alive - 4)
    #endif
  }
}
