import Foundation
import TensorCore

/// The processes of one data-parallel job, with the collectives a run needs on tensors and
/// Swift values, and a count of what they moved.
///
/// Every process holds a full replica of the run; rank 0 is the *leader*, the only one that
/// writes the run directory and the console. A job of one process (no `mpirun`) has a
/// ``SingleProcessTransport``, whose collectives cost nothing.
public final class ProcessGroup {
  /// The collectives of the job.
  public let transport: any CollectiveTransport
  /// What the collectives have moved so far (bytes per process and seconds spent in them).
  public private(set) var traffic = Traffic()

  /// Bytes and time of the collectives since the group was created.
  public struct Traffic: Sendable, Equatable {
    /// Bytes this process passed to all-reduce calls (its buffer's size, once per call).
    public var reducedBytes = 0
    /// Bytes broadcast from the leader.
    public var broadcastBytes = 0
    /// Collective calls made.
    public var calls = 0
    /// Wall time spent inside collectives (waiting for slower processes included).
    public var seconds = 0.0
  }

  public init(transport: any CollectiveTransport) { self.transport = transport }

  /// A job of this process alone.
  public static func single() -> ProcessGroup { ProcessGroup(transport: SingleProcessTransport()) }

  /// The group this process was started in: Open MPI's job when launched by `mpirun` with more
  /// than one process (``LaunchEnvironment``), otherwise this process alone.
  /// - Throws: ``CollectiveError`` when the launcher is not Open MPI's or its library cannot
  ///   be loaded.
  public static func launched(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup {
    switch try LaunchEnvironment(environment) {
    case .single: return .single()
    case .openMPI: return ProcessGroup(transport: try OpenMPITransport(environment: environment))
    }
  }

  public var rank: Int { transport.rank }
  public var size: Int { transport.size }
  /// Whether this process writes the run's files and console output (rank 0).
  public var isLeader: Bool { rank == 0 }
  /// Whether the job has more than one process.
  public var isDistributed: Bool { size > 1 }

  /// The element-wise sums over all processes of `tensors` (one all-reduce of their packed
  /// values), on `tensors`' backends. A single process gets `tensors` back unchanged.
  public func sum(_ tensors: [Tensor]) throws -> [Tensor] {
    guard isDistributed, !tensors.isEmpty else { return tensors }
    var packed = [Float](repeating: 0, count: tensors.reduce(0) { $0 + $1.count })
    var offset = 0
    for tensor in tensors {
      let count = tensor.count
      tensor.withHostBytes { bytes in
        packed.withUnsafeMutableBytes { destination in
          destination.baseAddress!.advanced(by: offset * 4).copyMemory(from: bytes.baseAddress!, byteCount: count * 4)
        }
      }
      offset += count
    }
    try timed(bytes: packed.count * 4) { () in
      try packed.withUnsafeMutableBufferPointer { buffer in try transport.allReduceSum(buffer) }
    }
    offset = 0
    return tensors.map { tensor in
      defer { offset += tensor.count }
      return Tensor(shape: tensor.shape, scalars: Array(packed[offset..<(offset + tensor.count)]), on: tensor.backend)
    }
  }

  /// The element-wise sums of `values` over all processes.
  public func sum(_ values: [Double]) throws -> [Double] {
    guard isDistributed, !values.isEmpty else { return values }
    var reduced = values
    try timed(bytes: values.count * 8) { () in
      try reduced.withUnsafeMutableBufferPointer { buffer in try transport.allReduceSum(buffer) }
    }
    return reduced
  }

  /// Whether every process passed the same `value` (one all-reduce of its minimum and maximum).
  public func agree(on value: UInt64) throws -> Bool {
    guard isDistributed else { return true }
    var low = [value], high = [value]
    try timed(bytes: 16) { () in
      try low.withUnsafeMutableBufferPointer { buffer in try transport.allReduceExtremum(buffer, maximum: false) }
      try high.withUnsafeMutableBufferPointer { buffer in try transport.allReduceExtremum(buffer, maximum: true) }
    }
    return low[0] == high[0]
  }

  /// The leader's `bytes` on every process (the others' arguments are ignored).
  public func broadcastFromLeader(_ bytes: [UInt8]) throws -> [UInt8] {
    try broadcast(bytes, from: 0)
  }

  /// Process `root`'s `bytes` on every process: the length first, then the bytes.
  public func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] {
    guard isDistributed else { return bytes }
    var length = [UInt64(rank == root ? bytes.count : 0)]
    try timed(bytes: 0, broadcast: 8) { () in
      try length.withUnsafeMutableBytes { buffer in try transport.broadcast(buffer, root: root) }
    }
    var received = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
    try timed(bytes: 0, broadcast: received.count) { () in
      try received.withUnsafeMutableBytes { buffer in try transport.broadcast(buffer, root: root) }
    }
    return received
  }

  /// Runs `body` on every process, then agrees on the outcome: when `body` threw on any
  /// process, every process throws a ``JobFailure`` carrying the error of the lowest such rank
  /// (so the job stops everywhere with one message, which the leader reports). Every process
  /// must reach the call, and `body` must not itself call collectives that could be left
  /// unmatched by a failure.
  public func together<Result>(_ body: () throws -> Result) throws -> Result {
    var outcome: Swift.Result<Result, any Error>
    do { outcome = .success(try body()) } catch { outcome = .failure(error) }
    guard isDistributed else { return try outcome.get() }
    var failure: String?
    if case .failure(let error) = outcome { failure = "\(error)" }
    var lowest = [UInt64(failure == nil ? size : rank)]
    try timed(bytes: 8) { () in
      try lowest.withUnsafeMutableBufferPointer { buffer in try transport.allReduceExtremum(buffer, maximum: false) }
    }
    let root = Int(lowest[0])
    guard root < size else { return try outcome.get() }
    let message = String(decoding: try broadcast(Array((failure ?? "").utf8), from: root), as: UTF8.self)
    throw JobFailure(message: message, rank: root)
  }

  /// Ends the whole job at once with `code` (a failure only this process saw).
  public func abort(code: Int32) -> Never { transport.abort(code: code) }

  /// Leaves the job cleanly (every process, at its end).
  public func finish() { transport.finish() }

  private func timed(bytes: Int, broadcast: Int = 0, _ body: () throws -> Void) throws {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    let elapsed = clock.now - start
    traffic.calls += 1
    traffic.reducedBytes += bytes
    traffic.broadcastBytes += broadcast
    traffic.seconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
  }
}
