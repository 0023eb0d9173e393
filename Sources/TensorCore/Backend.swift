import CPUKernels

/// Where tensors live and where their kernels run: the one seam through which storage and
/// kernels are reached. `Tensor` operations ask their operands' backend for memory and for the
/// primitive kernels, so a second backend (a GPU) can be added beside `CPUBackend` without
/// touching layers, networks or search code.
public protocol Backend: AnyObject, Sendable {
  /// A short human-readable name ("cpu(2 threads)").
  var name: String { get }
  /// Allocates uninitialised storage for `count` floats.
  func allocate(_ count: Int) -> TensorStorage
  /// The allocator's statistics (live, held, peaks), in bytes.
  var memory: BufferCache { get }
  /// The CPU worker pool used by the kernels (a GPU backend would expose its streams instead).
  var pool: WorkerPool { get }
}

/// The CPU backend: a caching allocator plus a persistent worker pool running the pure-Swift
/// kernels of `CPUKernels`.
public final class CPUBackend: Backend {
  public let pool: WorkerPool
  public let memory = BufferCache()

  /// Creates a backend running kernels on `threads` threads (the caller plus workers).
  public init(threads: Int = 1) {
    pool = WorkerPool(threadCount: threads)
  }

  public var name: String { "cpu(\(pool.threadCount) thread\(pool.threadCount == 1 ? "" : "s"))" }

  public func allocate(_ count: Int) -> TensorStorage {
    TensorStorage(count: count, cache: memory)
  }
}
