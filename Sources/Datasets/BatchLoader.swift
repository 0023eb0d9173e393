import Foundation
import TensorCore

/// Batches of a `BatchSampler` in schedule order, prepared ahead on a background thread.
///
/// The loader walks positions from `start`, `stepsPerEpoch` steps per epoch, up to (not
/// including) `endEpoch` or forever, keeping up to `prefetch` finished batches queued so that a
/// training step never waits for data. Because every batch is a pure function of its position
/// (see `BatchSampler`), the batches are bit-identical to `sampler.batch(at:on:)` and to those
/// of an uninterrupted run, whatever the timing. Each holds the rows of the sampler's `shard`.
///
/// Iterate with `next()` or `for batch in loader`. Dropping the loader, or `cancel()`, stops the
/// background thread and waits for it to exit (at most the time to prepare one batch). If an
/// image cannot be read (image folders), the batches before it are delivered, then `next()`
/// returns nil and `failure` holds the error naming the file.
///
/// ```swift
/// let weights = BatchSampler(dataset: train, indices: split.weights, batchSize: 64,
///                            order: .epochPermutation, augmentation: Augmentation(), seed: 2)
/// let loader = BatchLoader(sampler: weights, on: backend, start: resumePosition)
/// ```
public final class BatchLoader: Sequence, IteratorProtocol {
  /// The schedule's batch source.
  public let sampler: BatchSampler
  /// Steps per epoch of the schedule.
  public let stepsPerEpoch: Int
  private let queue: PrefetchQueue

  /// Starts preparing batches.
  /// - Parameters:
  ///   - backend: where the image tensors are allocated; its `allocate` is called from the
  ///     background thread and must be thread-safe (`CPUBackend`'s is).
  ///   - start: the first position (a resumed run passes the position it stopped at).
  ///   - stepsPerEpoch: steps per epoch (default `sampler.batchesPerEpoch`). For the fresh
  ///     architecture batches of DARTS pass the weight sampler's count, so that architecture
  ///     batch `(e, k)` goes with weight batch `(e, k)`. At most `batchesPerEpoch` for
  ///     `.sequential`; an `.epochPermutation` epoch longer than one pass restarts the
  ///     permutation when it is used up (`BatchSampler.sourcePosition(of:stepsPerEpoch:)`).
  ///   - endEpoch: stop before this epoch (nil: never stop).
  ///   - prefetch: batches kept ready (default 3).
  public init(
    sampler: BatchSampler, on backend: any Backend, start: BatchPosition = BatchPosition(epoch: 0, step: 0),
    stepsPerEpoch: Int? = nil, endEpoch: Int? = nil, prefetch: Int = 3
  ) {
    let steps = stepsPerEpoch ?? sampler.batchesPerEpoch
    precondition(steps > 0 && (sampler.order != .sequential || steps <= sampler.batchesPerEpoch),
                 "\(steps) steps per epoch with \(sampler.batchesPerEpoch) batches")
    precondition((0..<steps).contains(start.step), "start \(start) outside an epoch of \(steps) steps")
    precondition(prefetch > 0, "prefetch \(prefetch)")
    self.sampler = sampler
    self.stepsPerEpoch = steps
    let queue = PrefetchQueue(capacity: prefetch)
    self.queue = queue
    let thread = Thread {
      var position = start
      var permutation: (epoch: Int, indices: [Int])?
      while endEpoch.map({ position.epoch < $0 }) ?? true, !queue.isCancelled {
        let source = sampler.sourcePosition(of: position, stepsPerEpoch: steps)
        if sampler.order == .epochPermutation && permutation?.epoch != source.epoch {
          permutation = (source.epoch, sampler.permutation(epoch: source.epoch))
        }
        let indices = sampler.indices(at: source, epochPermutation: permutation?.indices ?? [])
        let batch: Batch
        do {
          batch = try sampler.assemble(position, source: source, indices: indices, on: backend)
        } catch {
          queue.fail(error)
          break
        }
        guard queue.put(batch) else { break }
        position = position.advanced(stepsPerEpoch: steps)
      }
      queue.finish()
    }
    thread.name = "batch-loader"
    thread.start()
  }

  deinit { queue.cancel() }

  /// The next batch, waiting for it if it is not ready; nil after the last epoch or `cancel()`.
  public func next() -> Batch? { queue.take() }

  /// Stops preparing batches and waits for the background thread to exit.
  public func cancel() { queue.cancel() }

  /// Why the loader stopped before its last epoch (an image that cannot be read), or nil.
  public var failure: (any Error)? { queue.failure }
}

/// A bounded queue between one producer thread and the consumer, with cancellation.
private final class PrefetchQueue: @unchecked Sendable {
  // All state is guarded by `condition`.
  private let condition = NSCondition()
  private let capacity: Int
  private var batches: [Batch] = []
  private var cancelled = false
  private var producing = true
  private var error: (any Error)?

  init(capacity: Int) { self.capacity = capacity }

  var isCancelled: Bool {
    condition.lock()
    defer { condition.unlock() }
    return cancelled
  }

  /// Producer: waits for room, then enqueues `batch`. False if the queue was cancelled.
  func put(_ batch: Batch) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    while batches.count >= capacity && !cancelled { condition.wait() }
    guard !cancelled else { return false }
    batches.append(batch)
    condition.broadcast()
    return true
  }

  /// Producer: preparing a batch failed; no more batches will come.
  func fail(_ error: any Error) {
    condition.lock()
    self.error = error
    condition.unlock()
  }

  /// The error passed to `fail`, if any.
  var failure: (any Error)? {
    condition.lock()
    defer { condition.unlock() }
    return error
  }

  /// Producer: no more batches will come.
  func finish() {
    condition.lock()
    producing = false
    condition.broadcast()
    condition.unlock()
  }

  /// Consumer: the oldest batch, waiting while the producer is still working; nil at the end.
  func take() -> Batch? {
    condition.lock()
    defer { condition.unlock() }
    while batches.isEmpty && producing && !cancelled { condition.wait() }
    guard !cancelled, !batches.isEmpty else { return nil }
    condition.broadcast()
    return batches.removeFirst()
  }

  /// Drops queued batches, wakes the producer and waits until it has finished.
  func cancel() {
    condition.lock()
    cancelled = true
    batches = []
    condition.broadcast()
    while producing { condition.wait() }
    condition.unlock()
  }
}
