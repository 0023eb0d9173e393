import CPUKernels
import Foundation

/// A contiguous float buffer owned by a backend. Tensors never write into a storage that
/// another tensor can see: operations allocate fresh storages, and the only in-place updates
/// (optimisers) go through `Tensor.updateInPlace`, which copies first if the storage is shared.
public final class TensorStorage: @unchecked Sendable {
  /// The first element. Valid for `count` floats, 64-byte aligned.
  public let pointer: UnsafeMutablePointer<Float>
  public let count: Int
  private let cache: BufferCache

  init(count: Int, cache: BufferCache) {
    self.count = count
    self.cache = cache
    self.pointer = cache.take(count)
  }

  deinit { cache.give(pointer, count: count) }
}

/// A caching allocator: freed buffers are kept by size and handed out again, so a training
/// step that repeats the shapes of the previous one touches no fresh pages (first touch of a
/// page costs ~1.8 µs per 4 KiB here). Thread-safe. Counts bytes held from the system, live
/// and at peak, for the memory figures of benchmarks and run logs.
public final class BufferCache: @unchecked Sendable {
  private let lock = NSLock()
  private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
  private var heldBytes = 0
  private var liveBytes = 0
  private var peakLiveBytes = 0
  private var peakHeldBytes = 0

  public init() {}

  deinit {
    for (_, pointers) in free { for p in pointers { p.deallocate() } }
  }

  func take(_ count: Int) -> UnsafeMutablePointer<Float> {
    let bytes = max(count, 1) * MemoryLayout<Float>.stride
    lock.lock()
    defer { lock.unlock() }
    liveBytes += bytes
    peakLiveBytes = max(peakLiveBytes, liveBytes)
    if var list = free[count], let p = list.popLast() {
      free[count] = list
      return p
    }
    heldBytes += bytes
    peakHeldBytes = max(peakHeldBytes, heldBytes)
    let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    return raw.bindMemory(to: Float.self, capacity: max(count, 1))
  }

  func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
    lock.lock()
    defer { lock.unlock() }
    liveBytes -= max(count, 1) * MemoryLayout<Float>.stride
    free[count, default: []].append(pointer)
  }

  /// Returns every cached (currently unused) buffer to the system.
  public func trim() {
    lock.lock()
    defer { lock.unlock() }
    for (count, pointers) in free {
      for p in pointers { p.deallocate() }
      heldBytes -= pointers.count * max(count, 1) * MemoryLayout<Float>.stride
    }
    free = [:]
  }

  /// Memory statistics in bytes: `live` in use by tensors, `held` from the system (live plus
  /// cached), and the peaks of both since creation or the last `resetPeaks()`.
  public var statistics: (live: Int, held: Int, peakLive: Int, peakHeld: Int) {
    lock.lock()
    defer { lock.unlock() }
    return (liveBytes, heldBytes, peakLiveBytes, peakHeldBytes)
  }

  /// Starts peak tracking afresh from the current levels.
  public func resetPeaks() {
    lock.lock()
    defer { lock.unlock() }
    peakLiveBytes = liveBytes
    peakHeldBytes = heldBytes
  }
}
