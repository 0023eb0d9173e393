/// An error every process of a job throws together (``ProcessGroup/together(_:)``): the
/// failure of process `rank`, which the leader reports once for the whole job.
public struct JobFailure: Error, CustomStringConvertible, Equatable, Sendable {
  /// The failing process's error, in one line.
  public let message: String
  /// The lowest rank that failed.
  public let rank: Int

  public init(message: String, rank: Int) {
    self.message = message
    self.rank = rank
  }

  /// The message, prefixed with the rank unless the leader failed itself.
  public var description: String { rank == 0 ? message : "process \(rank): \(message)" }
}
