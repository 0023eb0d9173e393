import Foundation
import Synchronization

/// A persistent fork-join pool of CPU worker threads.
///
/// `parallelFor` hands out task indices `0..<taskCount` to the calling thread and to
/// `threadCount - 1` persistent workers, which claim indices one by one (the caller from the
/// front of the range, the workers from the back, so each thread tends to keep the same part of
/// consecutive loops' data in its own cache) and return when all are done. Workers spin
/// briefly on an atomic generation counter before parking on a condition variable, so a
/// fork-join costs about a microsecond when they are warm (a `DispatchQueue.concurrentPerform`
/// fork-join costs tens of microseconds on Linux).
///
/// The pool is owned by whoever creates it (a `CPUBackend`, a benchmark): there is no global
/// pool. Nested calls from inside a task, and concurrent calls from a second thread while a
/// loop is running, run serially on the calling thread.
public final class WorkerPool: @unchecked Sendable {
  /// The number of threads that execute tasks, the calling thread included.
  public let threadCount: Int
  private let state: PoolState
  private let scratch = ScratchMemory()

  /// Creates a pool that runs loops on `threadCount` threads (the caller plus
  /// `threadCount - 1` workers started here).
  public init(threadCount: Int) {
    precondition(threadCount >= 1, "a worker pool needs at least one thread")
    self.threadCount = threadCount
    self.state = PoolState(workerCount: threadCount - 1)
    for _ in 0..<(threadCount - 1) {
      let state = self.state
      let thread = Thread { state.workerLoop() }
      thread.stackSize = 8 << 20
      thread.start()
    }
  }

  deinit { state.shutDown() }

  /// Runs `body(i)` for every `i` in `0..<taskCount`, spread over the pool's threads, and
  /// returns when all calls have finished. Tasks may run in any order and concurrently.
  public func parallelFor(_ taskCount: Int, _ body: (Int) -> Void) {
    if taskCount <= 0 { return }
    if threadCount == 1 || taskCount == 1 || !state.tryAcquire() {
      for i in 0..<taskCount { body(i) }
      return
    }
    withoutActuallyEscaping(body) { escapable in
      state.run(taskCount: taskCount, body: escapable)
    }
    state.release()
  }

  /// Calls `body` with an uninitialised buffer of at least `count` floats, valid during the
  /// call. Buffers are kept after use and handed to the next caller (fresh multi-megabyte
  /// allocations come back as untouched pages, and faulting them in costs about as much as a
  /// small GEMM). Safe to call from several threads.
  public func withScratch<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    scratch.withBuffer(count: count, body)
  }

  /// Splits `0..<count` into contiguous chunks of at least `grain` elements (about four per
  /// thread when `count` is large) and runs `body` on each chunk in parallel.
  public func parallelChunks(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    if count <= 0 { return }
    let maxChunks = max(1, count / max(1, grain))
    let chunks = min(maxChunks, threadCount == 1 ? 1 : threadCount * 4)
    if chunks == 1 {
      body(0..<count)
      return
    }
    parallelFor(chunks) { c in
      let start = count * c / chunks
      let end = count * (c + 1) / chunks
      body(start..<end)
    }
  }
}

/// The shared state of a `WorkerPool`; workers keep it alive, not the pool itself.
private final class PoolState: @unchecked Sendable {
  let workerCount: Int
  let generation = Atomic<Int>(0)
  /// The unclaimed tasks `front ..< back`, packed as `front << 32 | back`: the calling thread
  /// claims from the front, workers from the back, so that with two threads each keeps to its
  /// own end of the index range across consecutive loops (the same half of each tensor, still
  /// in its own cache) while the meeting point balances the load.
  let unclaimed = Atomic<Int>(0)
  let activeWorkers = Atomic<Int>(0)
  let parkedWorkers = Atomic<Int>(0)
  let running = Atomic<Bool>(false)
  let stopping = Atomic<Bool>(false)
  let lock = NSCondition()
  // Written by the submitting thread before `generation` is bumped (release) and read by workers
  // after they observe the new generation (acquire).
  var body: ((Int) -> Void)?

  /// Spin iterations before a worker parks (on the order of 100 µs).
  static let spinLimit = 20_000

  init(workerCount: Int) { self.workerCount = workerCount }

  func tryAcquire() -> Bool {
    running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
  }

  func release() { running.store(false, ordering: .releasing) }

  func run(taskCount: Int, body: @escaping (Int) -> Void) {
    precondition(taskCount < 1 << 31, "too many tasks for one loop: \(taskCount)")
    self.body = body
    unclaimed.store(taskCount, ordering: .sequentiallyConsistent)
    activeWorkers.store(workerCount, ordering: .sequentiallyConsistent)
    generation.add(1, ordering: .sequentiallyConsistent)
    if parkedWorkers.load(ordering: .sequentiallyConsistent) > 0 {
      lock.lock()
      lock.broadcast()
      lock.unlock()
    }
    runTasks(body: body, fromFront: true)
    while activeWorkers.load(ordering: .acquiring) > 0 {}
    self.body = nil
  }

  private func runTasks(body: (Int) -> Void, fromFront: Bool) {
    var range = unclaimed.load(ordering: .relaxed)
    while true {
      let (front, back) = (range >> 32, range & 0xFFFF_FFFF)
      if front >= back { return }
      let claimed = fromFront ? (front + 1) << 32 | back : front << 32 | (back - 1)
      let exchange = unclaimed.compareExchange(expected: range, desired: claimed, ordering: .relaxed)
      if exchange.exchanged {
        body(fromFront ? front : back - 1)
        range = unclaimed.load(ordering: .relaxed)
      } else {
        range = exchange.original
      }
    }
  }

  func workerLoop() {
    var seen = 0
    while true {
      var spins = 0
      while generation.load(ordering: .acquiring) == seen {
        if stopping.load(ordering: .relaxed) { return }
        spins += 1
        if spins >= Self.spinLimit {
          lock.lock()
          parkedWorkers.add(1, ordering: .sequentiallyConsistent)
          while generation.load(ordering: .sequentiallyConsistent) == seen
            && !stopping.load(ordering: .relaxed)
          {
            lock.wait()
          }
          parkedWorkers.subtract(1, ordering: .sequentiallyConsistent)
          lock.unlock()
          spins = 0
        }
      }
      if stopping.load(ordering: .relaxed) { return }
      seen = generation.load(ordering: .acquiring)
      if let body = body { runTasks(body: body, fromFront: false) }
      activeWorkers.subtract(1, ordering: .releasing)
    }
  }

  func shutDown() {
    stopping.store(true, ordering: .sequentiallyConsistent)
    lock.lock()
    lock.broadcast()
    lock.unlock()
  }
}

/// Reusable scratch buffers of one pool: kept after use, handed to the next caller that needs
/// at most their size.
private final class ScratchMemory: @unchecked Sendable {
  private let lock = NSLock()
  /// Free buffers with their capacities in floats.
  private var free: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

  deinit { for buffer in free { buffer.pointer.deallocate() } }

  func withBuffer<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    lock.lock()
    // The smallest buffer that fits, else the largest (to be replaced by a bigger one).
    let fitting = free.indices.filter { free[$0].capacity >= count }
    let pick = fitting.min { free[$0].capacity < free[$1].capacity }
      ?? free.indices.max { free[$0].capacity < free[$1].capacity }
    let taken = pick.map { free.remove(at: $0) }
    lock.unlock()
    var buffer: (pointer: UnsafeMutablePointer<Float>, capacity: Int)
    if let taken, taken.capacity >= count {
      buffer = taken
    } else {
      taken?.pointer.deallocate()
      buffer = (UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1)), max(count, 1))
    }
    defer {
      lock.lock()
      free.append(buffer)
      lock.unlock()
    }
    return body(buffer.pointer)
  }
}
