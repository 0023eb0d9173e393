import Foundation

/// The collective operations a data-parallel job needs, on raw host buffers.
///
/// Every process of the job calls the same operations in the same order with buffers of the
/// same length; each call returns when the result is in place on this process. Implemented by
/// ``OpenMPITransport`` (processes started by Open MPI's `mpirun`) and by ``SingleProcessTransport``
/// (one process: every operation leaves its buffer as it is).
public protocol CollectiveTransport: AnyObject {
  /// This process's index in the job, `0 ..< size`.
  var rank: Int { get }
  /// The number of processes in the job.
  var size: Int { get }
  /// Replaces `values` on every process by their element-wise sum over all processes; every
  /// process receives the same bits.
  func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
  /// ``allReduceSum(_:)-5m4kk`` in double precision.
  func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws
  /// Replaces `values` by their element-wise minimum (`maximum: false`) or maximum over all
  /// processes.
  func allReduceExtremum(_ values: UnsafeMutableBufferPointer<UInt64>, maximum: Bool) throws
  /// Copies `bytes` of process `root` into `bytes` of every other process.
  func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
  /// Ends the whole job at once with exit status `code` (every process, wherever it is).
  func abort(code: Int32) -> Never
  /// Leaves the job cleanly; no collective may follow.
  func finish()
}

/// A collective that failed, or an MPI library that cannot be used, in one line.
public struct CollectiveError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// The transport of a job of one process: every collective is the identity.
public final class SingleProcessTransport: CollectiveTransport {
  public init() {}
  public var rank: Int { 0 }
  public var size: Int { 1 }
  public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
  public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
  public func allReduceExtremum(_ values: UnsafeMutableBufferPointer<UInt64>, maximum: Bool) throws {}
  public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
  public func abort(code: Int32) -> Never { exit(code) }
  public func finish() {}
}
