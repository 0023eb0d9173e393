import CPUKernels
import Synchronization
import XCTest

/// The pool runs every task index exactly once per loop, whatever the thread count, the task
/// count (including counts that leave threads idle) and nesting, and returns only when all are
/// done.
final class WorkerPoolTests: XCTestCase {
  func testEveryTaskRunsExactlyOnce() {
    for threads in [1, 2, 4] {
      let pool = WorkerPool(threadCount: threads)
      for count in [1, 2, 3, 7, 100, 1_000] {
        for _ in 0..<20 {
          // Each task touches only its own slot, so plain increments suffice; a task run twice
          // (or never) shows as 2 (or 0).
          let runs = UnsafeMutablePointer<Int>.allocate(capacity: count)
          runs.initialize(repeating: 0, count: count)
          defer { runs.deallocate() }
          let slots = UnsafeSendable(UnsafePointer(runs))
          pool.parallelFor(count) { i in UnsafeMutablePointer(mutating: slots.pointer)[i] += 1 }
          let tally = Array(UnsafeBufferPointer(start: runs, count: count))
          XCTAssertEqual(tally, Array(repeating: 1, count: count), "threads \(threads), tasks \(count)")
        }
      }
    }
  }

  func testNestedLoopsAndChunksCoverTheirRanges() {
    let pool = WorkerPool(threadCount: 2)
    let total = Atomic<Int>(0)
    pool.parallelFor(8) { _ in
      // A nested loop runs serially on the calling thread.
      pool.parallelFor(5) { _ in total.add(1, ordering: .relaxed) }
    }
    XCTAssertEqual(total.load(ordering: .relaxed), 40)
    for count in [1, 31, 100_000, 1_000_003] {
      let covered = Atomic<Int>(0)
      let sum = Atomic<Int>(0)
      pool.parallelChunks(count, grain: 1_000) { range in
        covered.add(range.count, ordering: .relaxed)
        sum.add(range.reduce(0, +), ordering: .relaxed)
      }
      XCTAssertEqual(covered.load(ordering: .relaxed), count)
      XCTAssertEqual(sum.load(ordering: .relaxed), count * (count - 1) / 2)
    }
  }
}
