import DataParallel
import Foundation
import TensorCore

/// A run that a data-parallel job resumes, as every process knows it: the leader opens the
/// directory and reads its settings; the others never read the directory and receive the
/// settings from the leader.
public struct ResumedRun<Settings: Codable> {
  /// The run directory (opened by the leader, ``RunDirectory/unopened(at:)`` elsewhere).
  public let directory: RunDirectory
  /// The settings of the run's `config.json`, the leader's on every process.
  public let settings: Settings
  /// Whether the run has written a checkpoint (if not, it starts again from its settings).
  public let hasCheckpoint: Bool

  /// Opens the run at `url` as process `group.rank`. The leader opens the directory
  /// (``RunDirectory/resume(at:)``), reads its settings with `read` (which also checks them and
  /// that the run is of the right kind), and says on `output` when there is no checkpoint.
  /// - Throws: on every process (as a ``JobFailure`` in a job of several), the leader's error.
  public init(opening url: URL, in group: ProcessGroup, output: (String) -> Void, reading read: (RunDirectory) throws -> Settings) throws {
    let opened = try group.together { () -> (RunDirectory, [UInt8], Bool) in
      guard group.isLeader else { return (RunDirectory.unopened(at: url), [], false) }
      let directory = try RunDirectory.resume(at: url)
      let settings = try read(directory)
      if !directory.hasCheckpoint {
        output("\(directory.url.path) has no checkpoint (the run stopped before its first one): starting it again from config.json\n")
      }
      return (directory, [UInt8](try JSONCoding.encoder().encode(settings)), directory.hasCheckpoint)
    }
    let received = try group.broadcastFromLeader(opened.1 + [opened.2 ? 1 : 0])
    settings = try group.together { try JSONCoding.decoder().decode(Settings.self, from: Data(received.dropLast())) }
    directory = opened.0
    hasCheckpoint = received.last == 1
  }
}

extension Checkpoint {
  /// The leader's `checkpoint` on every process of `group` (encoded, broadcast, decoded; nil
  /// where the leader's is nil); the others' argument is ignored. `path` names it in errors.
  /// - Throws: on every process (as a ``JobFailure`` in a job of several), the error of
  ///   encoding or decoding it.
  public static func replicated(_ checkpoint: Checkpoint?, in group: ProcessGroup, naming path: String, on backend: any Backend) throws -> Checkpoint? {
    guard group.isDistributed else { return checkpoint }
    let bytes = try group.together { group.isLeader ? try [UInt8](checkpoint?.encoded(naming: path) ?? Data()) : [] }
    let received = try group.broadcastFromLeader(bytes)
    return try group.together {
      group.isLeader || received.isEmpty ? checkpoint : try decode(Data(received), naming: path, on: backend)
    }
  }
}
