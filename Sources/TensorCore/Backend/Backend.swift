import Foundation

/// Where tensors live and where their kernels run: the one seam through which storage and
/// kernels are reached. `Tensor` operations allocate through their operands' backend and call
/// its primitives (`KernelPrimitives`, listed in KernelContract.swift), so a further backend (a
/// GPU) can be added beside `CPUBackend` and `ReferenceBackend` without touching layers,
/// networks or search code. See docs/BACKENDS.md.
public protocol Backend: AnyObject, Sendable, KernelPrimitives {
  /// A short human-readable name ("cpu(2 threads)", "reference").
  var name: String { get }
  /// Allocates uninitialised storage for `count` floats.
  func allocate(_ count: Int) -> TensorStorage
  /// The allocator's statistics (live, held, peaks), in bytes.
  var memory: any MemoryAccounting { get }
}

/// What an allocator reports: bytes in use by tensors (`live`), bytes taken from the system
/// (`held`: live plus cached) and their peaks.
public protocol MemoryAccounting: AnyObject, Sendable {
  /// Bytes live and held now, and the peaks of both since creation or the last `resetPeaks()`.
  var statistics: (live: Int, held: Int, peakLive: Int, peakHeld: Int) { get }
  /// Starts peak tracking afresh from the current levels.
  func resetPeaks()
}

/// The backends a run can choose (`--backend`): `cpu`, the fast multi-threaded kernels, or
/// `reference`, the plain single-threaded loops that define their semantics (a checking tool,
/// many times slower).
public enum BackendKind: String, CaseIterable, Codable, Sendable {
  case cpu, reference

  /// A new backend of this kind; `threads` is used by `cpu` only (the reference backend is
  /// single-threaded by design).
  public func make(threads: Int) -> any Backend {
    switch self {
    case .cpu: CPUBackend(threads: threads)
    case .reference: ReferenceBackend()
    }
  }

  /// The accepted names, for help texts: "cpu|reference".
  public static var names: String { allCases.map(\.rawValue).joined(separator: "|") }
}
