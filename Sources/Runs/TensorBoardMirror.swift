import Foundation
import TensorBoard

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The TensorBoard copy of a run's event log: one event file in the run directory,
/// `events.out.tfevents.<unix seconds>.<host>`, holding a record per event of `events.jsonl`
/// as ``JournalSummaries`` reads it, so that `tensorboard --logdir runs/` shows every run.
///
/// `events.jsonl` stays the source of truth. Opening a mirror rewrites the event file from
/// the log as it stands (after a resumed run's log has been cut back to its checkpoint) and
/// removes the directory's other event files, so TensorBoard never sees an event twice; each
/// later event is appended as one record in a single `write`, without `fsync`, like the log's
/// lines. A process killed between the two writes leaves the mirror one event short until the
/// run is resumed or ``rewrite(runAt:)`` runs.
///
/// Not thread-safe: append from one thread (the training loop).
public final class TensorBoardMirror {
  /// The event file.
  public let url: URL
  private let descriptor: Int32
  private var summaries = JournalSummaries()
  /// The wall time of the events of old logs, which have no `wall_time` field: the file's.
  private let fallbackWallTime: Double

  /// Replaces the event files of `directory` with one mirroring `events` (its log, as
  /// ``EventLog/events(at:)`` reads it), opened for appending.
  /// - Throws: ``AtomicFileError`` if the file cannot be written, ``EventLogError`` if it
  ///   cannot be opened.
  init(directory: RunDirectory, events: [[String: JSONValue]]) throws {
    let now = Date().timeIntervalSince1970
    url = directory.url.appendingPathComponent(EventFileName.make(wallTime: now, host: hostName()))
    fallbackWallTime = now
    var bytes = TensorBoardEvent(wallTime: now, step: 0, content: .fileVersion(TensorBoardEvent.fileVersion)).record
    for event in events {
      if let record = summaries.event(for: event, fallbackWallTime: now)?.record { bytes += record }
    }
    try AtomicFile.write(to: url) { sink in try bytes.withUnsafeBytes { try sink.write($0) } }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.url.path)) ?? []
    for name in names where EventFileName.matches(name) && name != url.lastPathComponent {
      unlink(directory.url.appendingPathComponent(name).path)
    }
    descriptor = open(url.path, O_WRONLY | O_APPEND | O_CLOEXEC)
    guard descriptor >= 0 else { throw EventLogError(path: url.path, problem: .cannotOpen(errnoDescription())) }
  }

  deinit { close(descriptor) }

  /// Appends the record of the journal event `fields` (nothing if it has no value to show).
  /// - Throws: ``EventLogError`` if the write fails.
  func append(_ fields: [String: JSONValue]) throws(EventLogError) {
    guard let record = summaries.event(for: fields, fallbackWallTime: fallbackWallTime)?.record else { return }
    if let reason = record.withUnsafeBytes({ writeAll(descriptor, $0) }) {
      throw EventLogError(path: url.path, problem: .cannotWrite(reason))
    }
  }

  /// Rewrites the event file of the run directory at `url` from its `events.jsonl` (runs
  /// from before event files were written, or a mirror left short). Returns the file's URL.
  /// - Throws: ``EventLogError`` naming `events.jsonl` if it is missing, unreadable or holds a
  ///   line that is not a JSON object; ``AtomicFileError`` if the event file cannot be written.
  @discardableResult
  public static func rewrite(runAt url: URL) throws -> URL {
    let directory = RunDirectory(url: URL(fileURLWithPath: url.standardizedFileURL.path, isDirectory: true))
    return try TensorBoardMirror(directory: directory, events: EventLog.events(at: directory.eventsURL)).url
  }
}
