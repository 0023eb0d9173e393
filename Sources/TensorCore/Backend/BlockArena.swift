import Foundation

/// Large buffers carved out of big mapped segments: best fit, split, and coalescing of freed
/// neighbours (the scheme of PyTorch's CUDA caching allocator, on the CPU).
///
/// A training step frees and allocates tensors of many sizes. Caching freed buffers by exact
/// size never touches fresh pages once the first step has run, but at the memory peak of a
/// DARTS search step about a sixth of what it held sat in cached buffers of sizes nobody
/// asked for. Here a freed buffer merges with free neighbours and can serve any request that
/// fits, so memory held stays close to memory live, and segments are never returned, so no
/// page is touched for the first time after the first steps. Not thread-safe: `BufferCache`
/// serialises calls.
public struct BlockArena {
  /// Sizes are rounded up to a multiple of this (keeps every block 512-byte aligned; segments
  /// are page-aligned).
  public static let granularity = 512
  /// A free block is split when at least this much would be left over.
  public static let minimumSplit = 64 << 10

  /// Bytes mapped for a new segment (larger requests get a segment of their own size).
  public let segmentBytes: Int

  private struct Block {
    var segment: Int
    var offset: Int
    var size: Int
    var isFree: Bool
    var previous: Int?
    var next: Int?
  }

  private var segments: [(base: UnsafeMutableRawPointer, size: Int)] = []
  private var blocks: [Block] = []
  private var unusedBlockIDs: [Int] = []
  /// Free blocks ordered by (size, id): the first entry not smaller than a request is the best fit.
  private var freeBlocks: [(size: Int, id: Int)] = []
  /// Live blocks by address.
  private var liveBlocks: [UnsafeMutableRawPointer: Int] = [:]

  public init(segmentBytes: Int = 64 << 20) {
    self.segmentBytes = segmentBytes
  }

  /// Bytes mapped from the system.
  public private(set) var mappedBytes = 0

  /// The size a request of `bytes` occupies.
  public static func blockSize(_ bytes: Int) -> Int {
    (max(bytes, 1) + granularity - 1) / granularity * granularity
  }

  /// A buffer of at least `bytes` bytes, 512-byte aligned.
  public mutating func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
    let size = Self.blockSize(bytes)
    var slot = firstFree(atLeast: size, id: 0)
    if slot == freeBlocks.count {
      addSegment(bytes: max(segmentBytes, (size + (2 << 20) - 1) / (2 << 20) * (2 << 20)))
      slot = firstFree(atLeast: size, id: 0)
    }
    let id = freeBlocks.remove(at: slot).id
    if blocks[id].size - size >= Self.minimumSplit {
      let rest = newBlock(Block(
        segment: blocks[id].segment, offset: blocks[id].offset + size, size: blocks[id].size - size,
        isFree: true, previous: id, next: blocks[id].next))
      if let next = blocks[id].next { blocks[next].previous = rest }
      blocks[id].next = rest
      blocks[id].size = size
      insertFree(rest)
    }
    blocks[id].isFree = false
    let pointer = segments[blocks[id].segment].base + blocks[id].offset
    liveBlocks[pointer] = id
    return pointer
  }

  /// Returns a buffer from `allocate`; it merges with free neighbours.
  public mutating func free(_ pointer: UnsafeMutableRawPointer) {
    guard var id = liveBlocks.removeValue(forKey: pointer) else {
      preconditionFailure("BlockArena.free: \(pointer) was not allocated here")
    }
    blocks[id].isFree = true
    if let previous = blocks[id].previous, blocks[previous].isFree {
      removeFree(previous)
      absorbNext(into: previous)
      id = previous
    }
    if let next = blocks[id].next, blocks[next].isFree {
      removeFree(next)
      absorbNext(into: id)
    }
    insertFree(id)
  }

  /// Bytes in live blocks.
  public var liveBytes: Int { liveBlocks.values.reduce(0) { $0 + blocks[$1].size } }

  /// The free blocks as (offset in segment, size), per segment, for tests.
  public var freeLayout: [[(offset: Int, size: Int)]] {
    segments.indices.map { s in
      freeBlocks.map { blocks[$0.id] }.filter { $0.segment == s }.map { ($0.offset, $0.size) }.sorted { $0.offset < $1.offset }
    }
  }

  /// Unmaps every segment. Only valid when no block is live.
  public mutating func releaseAll() {
    precondition(liveBlocks.isEmpty, "BlockArena.releaseAll with live blocks")
    for segment in segments { munmap(segment.base, segment.size) }
    segments = []
    blocks = []
    unusedBlockIDs = []
    freeBlocks = []
    mappedBytes = 0
  }

  // MARK: Internals

  private mutating func addSegment(bytes: Int) {
    guard let base = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
      fatalError("out of memory: cannot map \(bytes) bytes for tensors")
    }
    segments.append((base, bytes))
    mappedBytes += bytes
    insertFree(newBlock(Block(segment: segments.count - 1, offset: 0, size: bytes, isFree: true, previous: nil, next: nil)))
  }

  /// Merges the block after `id` (free, already out of the free list) into `id`.
  private mutating func absorbNext(into id: Int) {
    let next = blocks[id].next!
    blocks[id].size += blocks[next].size
    blocks[id].next = blocks[next].next
    if let after = blocks[next].next { blocks[after].previous = id }
    unusedBlockIDs.append(next)
  }

  private mutating func newBlock(_ block: Block) -> Int {
    if let id = unusedBlockIDs.popLast() {
      blocks[id] = block
      return id
    }
    blocks.append(block)
    return blocks.count - 1
  }

  /// Index in `freeBlocks` of the first entry ≥ (size, id).
  private func firstFree(atLeast size: Int, id: Int) -> Int {
    var (low, high) = (0, freeBlocks.count)
    while low < high {
      let mid = (low + high) / 2
      let entry = freeBlocks[mid]
      if entry.size < size || (entry.size == size && entry.id < id) { low = mid + 1 } else { high = mid }
    }
    return low
  }

  private mutating func insertFree(_ id: Int) {
    freeBlocks.insert((blocks[id].size, id), at: firstFree(atLeast: blocks[id].size, id: id))
  }

  private mutating func removeFree(_ id: Int) {
    let slot = firstFree(atLeast: blocks[id].size, id: id)
    precondition(slot < freeBlocks.count && freeBlocks[slot].id == id, "BlockArena: free list out of order")
    freeBlocks.remove(at: slot)
  }
}
