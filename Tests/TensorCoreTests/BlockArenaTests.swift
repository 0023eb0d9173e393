import TensorCore
import XCTest

/// The arena behind large tensor buffers: live blocks never overlap, freed neighbours merge,
/// and freed memory serves later requests of other sizes without mapping more.
final class BlockArenaTests: XCTestCase {
  private let mib = 1 << 20

  func testFreedNeighboursMergeAndServeOtherSizes() {
    var arena = BlockArena(segmentBytes: 8 * mib)
    let a = arena.allocate(2 * mib)
    let b = arena.allocate(2 * mib)
    let c = arena.allocate(2 * mib)
    XCTAssertEqual(arena.mappedBytes, 8 * mib)
    XCTAssertEqual(b - a, 2 * mib)
    XCTAssertEqual(c - b, 2 * mib)
    arena.free(a)
    arena.free(b)
    // a and b merged: a 4 MiB request fits there without a new segment.
    let d = arena.allocate(4 * mib)
    XCTAssertEqual(d, a)
    XCTAssertEqual(arena.mappedBytes, 8 * mib)
    arena.free(c)
    arena.free(d)
    XCTAssertEqual(arena.freeLayout.count, 1)
    XCTAssertEqual(arena.freeLayout[0].map(\.size), [8 * mib], "everything merged back into one block")
    XCTAssertEqual(arena.liveBytes, 0)
    arena.releaseAll()
  }

  func testBestFitAndOversizedRequests() {
    var arena = BlockArena(segmentBytes: 4 * mib)
    let small = arena.allocate(3 * mib)
    let big = arena.allocate(5 * mib + 1)  // a segment of its own, rounded to 2 MiB
    XCTAssertEqual(arena.mappedBytes, 4 * mib + 6 * mib)
    arena.free(big)
    // Best fit: the 1 MiB request goes to the 1 MiB hole of the first segment, not the 6 MiB one.
    let hole = arena.allocate(1 * mib)
    XCTAssertEqual(hole - small, 3 * mib)
    arena.free(hole)
    arena.free(small)
    XCTAssertEqual(arena.freeLayout.map { $0.map(\.size) }, [[4 * mib], [6 * mib]])
    arena.releaseAll()
  }

  func testRandomTrafficKeepsBlocksDisjointAndWritable() {
    var arena = BlockArena(segmentBytes: 16 * mib)
    var generator = SeededGenerator(seed: 11)
    var live: [(pointer: UnsafeMutableRawPointer, bytes: Int, tag: UInt8)] = []
    for round in 0..<3000 {
      if live.isEmpty || (live.count < 40 && generator.next() % 2 == 0) {
        let bytes = 256 << 10 + Int(generator.next() % UInt64(3 * mib))
        let p = arena.allocate(bytes)
        let tag = UInt8(truncatingIfNeeded: round)
        p.initializeMemory(as: UInt8.self, repeating: tag, count: bytes)
        live.append((p, bytes, tag))
      } else {
        let i = Int(generator.next() % UInt64(live.count))
        let block = live.remove(at: i)
        // Nobody else wrote into this block while it was live.
        let bytes = UnsafeRawBufferPointer(start: block.pointer, count: block.bytes)
        XCTAssertTrue(bytes.allSatisfy { $0 == block.tag }, "block overwritten")
        arena.free(block.pointer)
      }
      if round % 500 == 0 {
        let sorted = live.sorted { $0.pointer < $1.pointer }
        for (x, y) in zip(sorted, sorted.dropFirst()) { XCTAssertLessThanOrEqual(x.pointer + x.bytes, y.pointer) }
        // A block keeps a remainder too small to split off (< minimumSplit).
        let requested = live.reduce(0) { $0 + BlockArena.blockSize($1.bytes) }
        XCTAssertGreaterThanOrEqual(arena.liveBytes, requested)
        XCTAssertLessThan(arena.liveBytes, requested + live.count * BlockArena.minimumSplit)
      }
    }
    for block in live { arena.free(block.pointer) }
    XCTAssertTrue(arena.freeLayout.allSatisfy { $0.count == 1 }, "each segment is one free block again")
    arena.releaseAll()
  }

  func testBufferCacheReportsArenaMemory() {
    let backend = CPUBackend(threads: 1)
    let storages: [TensorStorage] = (0..<4).map { _ in backend.allocate(mib / 4) }  // 1 MiB each
    withExtendedLifetime(storages) {
      let stats = backend.memory.statistics
      XCTAssertEqual(stats.live, 4 * mib)
      XCTAssertGreaterThanOrEqual(stats.held, stats.live)
    }
  }

  func testBufferCacheReleasesArenaBuffers() {
    let backend = CPUBackend(threads: 1)
    do {
      let storage = backend.allocate(mib)
      withExtendedLifetime(storage) { XCTAssertEqual(backend.memory.statistics.live, 4 * mib) }
    }
    XCTAssertEqual(backend.memory.statistics.live, 0)
    XCTAssertEqual(backend.memory.statistics.peakLive, 4 * mib)
  }
}
