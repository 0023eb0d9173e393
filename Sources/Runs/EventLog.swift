import Diagnostics
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The append-only event log of a run, `events.jsonl`: one JSON object per line.
///
/// Each event is encoded with sorted keys and handed to the kernel in a single `write` before
/// ``append(_:)`` returns, so a process killed afterwards loses nothing (the log is not
/// `fsync`ed per line; a power loss may drop the last lines). Non-finite numbers are written as
/// the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
///
/// Opening a log repairs its tail. A line without its final newline (cut by `kill -9`) is
/// removed. When resuming from a checkpoint taken at step cursor `c`, pass
/// `resumingAfter: c`: the log is cut before the first event whose `cursorKey` field exceeds
/// `c`, so the events the resumed run writes again are not duplicated and its log reads like
/// that of an uninterrupted run. Events without the field stay with the events before them.
///
/// Not thread-safe: append from one thread (the training loop).
public final class EventLog {
  /// The log file.
  public let url: URL
  private let descriptor: Int32
  private let encoder: JSONEncoder

  /// Opens (creating if needed) the log at `url` for appending, after repairing its tail.
  ///
  /// - Parameters:
  ///   - url: The log file; usually ``RunDirectory/eventsURL``.
  ///   - cursor: If set, drop the first event whose `cursorKey` value is greater than this, and
  ///     every event after it.
  ///   - cursorKey: The numeric field that orders events (default `"step"`).
  /// - Throws: ``EventLogError`` naming the file if it cannot be opened or holds a complete
  ///   line that is not a JSON object.
  public init(url: URL, resumingAfter cursor: Int? = nil, cursorKey: String = "step") throws(EventLogError) {
    self.url = url
    descriptor = open(url.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw EventLogError(path: url.path, problem: .cannotOpen(errnoDescription())) }
    encoder = JSONCoding.encoder()
    do {
      try repair(cursor: cursor, cursorKey: cursorKey)
    } catch {
      close(descriptor)
      throw error
    }
  }

  deinit { close(descriptor) }

  /// Appends one event, encoded as a single-line JSON object.
  /// - Throws: the encoder's error if `event` does not encode, ``EventLogError`` if the write fails.
  public func append(_ event: some Encodable) throws {
    var line = try encoder.encode(event)
    line.append(0x0A)
    if let reason = line.withUnsafeBytes({ writeAll(descriptor, $0) }) {
      throw EventLogError(path: url.path, problem: .cannotWrite(reason))
    }
  }

  /// Appends one event given as fields: `try log.append(["event": "epoch", "step": 40])`.
  public func append(_ fields: [String: JSONValue]) throws {
    try append(JSONValue.object(fields))
  }

  /// Cuts the file after its last complete line, or before the first event past `cursor`.
  private func repair(cursor: Int?, cursorKey: String) throws(EventLogError) {
    let data: Data
    do { data = try readFile(url) } catch {
      throw EventLogError(path: url.path, problem: .cannotOpen(error.problem))
    }
    var keep = 0  // bytes of the lines kept so far
    var lineNumber = 0
    while let newline = data[keep...].firstIndex(of: 0x0A) {
      lineNumber += 1
      let line = data[keep..<newline]
      guard let event = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
        throw EventLogError(path: url.path, problem: .corruptLine(lineNumber))
      }
      if let cursor, let value = (event[cursorKey] as? NSNumber)?.doubleValue, value > Double(cursor) { break }
      keep = newline + 1
    }
    if keep < data.count && ftruncate(descriptor, off_t(keep)) != 0 {
      throw EventLogError(path: url.path, problem: .cannotWrite(errnoDescription()))
    }
  }
}

/// An event log that cannot be used; its description is one line naming the file.
public struct EventLogError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What went wrong.
  public enum Problem: Equatable, Sendable {
    /// The file cannot be opened or read.
    case cannotOpen(String)
    /// Appending or truncating failed.
    case cannotWrite(String)
    /// A complete line (1-based) is not a JSON object.
    case corruptLine(Int)
  }

  /// The log file.
  public let path: String
  /// What went wrong.
  public let problem: Problem

  public var description: String {
    switch problem {
    case .cannotOpen(let reason): return oneLine("cannot open event log \(path): \(reason)")
    case .cannotWrite(let reason): return oneLine("cannot write event log \(path): \(reason)")
    case .corruptLine(let line): return "event log \(path): line \(line) is not a JSON object"
    }
  }
}
