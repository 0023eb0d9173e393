import CPUKernels
import Foundation

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

extension CPUBackend {
  /// The most threads a backend may run: beyond this a pool only adds contention (and a
  /// thread count from a flag or a config file must not create tens of thousands of threads).
  public static let maximumThreads = 256

  /// One line saying why `threads` is not a usable thread count, or nil.
  public static func threadCountProblem(_ threads: Int) -> String? {
    (1...maximumThreads).contains(threads) ? nil : "--threads must be in 1...\(maximumThreads), got \(threads)"
  }

  /// A warning when `threads` is more than the machine's cores (the steps then run slower, as
  /// the pool's threads take turns on the cores), or nil.
  public static func threadCountWarning(_ threads: Int) -> String? {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    return threads > cores ? "warning: --threads \(threads) is more than the \(cores) cores of this machine; steps will run slower than with --threads \(cores)" : nil
  }
}
