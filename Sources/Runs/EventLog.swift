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

  /// The events of the log at `url` as opening it would keep them: its complete lines (a line
  /// cut by `kill -9` is left out).
  /// - Throws: ``EventLogError`` naming the file if it cannot be read or holds a complete
  ///   line that is not a JSON object.
  public static func events(at url: URL) throws(EventLogError) -> [[String: JSONValue]] {
    var events: [[String: JSONValue]] = []
    try forEachEvent(in: url) { event, _ in
      events.append(event)
      return true
    }
    return events
  }

  /// Cuts the file after its last complete line, or before the first event past `cursor`.
  private func repair(cursor: Int?, cursorKey: String) throws(EventLogError) {
    var keep = 0  // bytes of the lines kept so far
    let size = try Self.forEachEvent(in: url) { event, end in
      if let cursor, let value = event[cursorKey]?.number, value > Double(cursor) { return false }
      keep = end
      return true
    }
    if keep < size && ftruncate(descriptor, off_t(keep)) != 0 {
      throw EventLogError(path: url.path, problem: .cannotWrite(errnoDescription()))
    }
  }

  /// Decodes the complete lines of the log at `url` in order, handing each event and the
  /// offset just past its line to `body` until it returns false. Returns the file's size.
  @discardableResult
  private static func forEachEvent(in url: URL, _ body: ([String: JSONValue], Int) -> Bool) throws(EventLogError) -> Int {
    let data: Data
    do { data = try readFile(url) } catch {
      throw EventLogError(path: url.path, problem: .cannotOpen(error.problem))
    }
    let decoder = JSONCoding.decoder()
    var start = 0
    var lineNumber = 0
    while let newline = data[start...].firstIndex(of: 0x0A) {
      lineNumber += 1
      guard let event = try? decoder.decode([String: JSONValue].self, from: data[start..<newline]) else {
        throw EventLogError(path: url.path, problem: .corruptLine(lineNumber))
      }
      start = newline + 1
      guard body(event, start) else { break }
    }
    return data.count
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
