import Foundation

/// What a long run reports as it goes: numbered events in `events.jsonl`, mirrored in a
/// TensorBoard event file (``TensorBoardMirror``), and lines on the console, with one progress
/// display per epoch.
///
/// Every event gets the field `event`, its sequence number from 0, and `wall_time`, the
/// seconds since 1970 when it was logged. A run stores ``nextEvent`` in its checkpoint;
/// reopening the journal with that number cuts the log after the checkpoint's last event, so
/// a resumed run's log reads like an uninterrupted one, and rewrites the event file from it.
public final class RunJournal {
  /// The sequence number of the next event.
  public private(set) var nextEvent: Int
  /// The log file (nil: a journal that counts events but writes nothing).
  private let events: EventLog?
  /// The log's TensorBoard copy (nil with ``events``).
  private let tensorBoard: TensorBoardMirror?
  private let output: (String) -> Void

  /// A new log in `directory`, or, with `resumingAt`, the log of a run resumed from a
  /// checkpoint taken when `nextEvent` was that number.
  /// - Throws: ``EventLogError`` naming the file, ``AtomicFileError`` if the event file cannot
  ///   be written.
  public init(directory: RunDirectory, resumingAt nextEvent: Int? = nil, output: @escaping (String) -> Void) throws {
    if let nextEvent {
      events = try EventLog(url: directory.eventsURL, resumingAfter: nextEvent - 1, cursorKey: "event")
    } else {
      events = try EventLog(url: directory.eventsURL)
    }
    tensorBoard = try TensorBoardMirror(directory: directory, events: EventLog.events(at: directory.eventsURL))
    self.nextEvent = nextEvent ?? 0
    self.output = output
  }

  /// A journal that numbers events as the run's log does but writes no file and no console
  /// line: that of the processes of a data-parallel job other than its leader.
  public init(silentFrom nextEvent: Int) {
    events = nil
    tensorBoard = nil
    self.nextEvent = nextEvent
    output = { _ in }
  }

  /// Appends one event with the next sequence number and the wall time, to the log and to
  /// its TensorBoard copy.
  public func log(_ fields: [String: JSONValue]) throws {
    var event = fields
    event["event"] = .int(nextEvent)
    event["wall_time"] = .double(Date().timeIntervalSince1970)
    try events?.append(event)
    try tensorBoard?.append(event)
    nextEvent += 1
  }

  /// One line of console output.
  public func say(_ line: String) { output(line + "\n") }

  /// A progress display of `total` steps on this journal's console.
  public func progress(label: String, total: Int) -> ProgressDisplay {
    ProgressDisplay(label: label, total: total, output: output)
  }
}

extension ProgressDisplay {
  /// Records step `current`: a plain line every `plainEvery` steps when not on a terminal, a
  /// redraw of the bar otherwise.
  public func step(_ current: Int, metrics: Metrics, plainEvery: Int = 50) {
    if current % plainEvery == 0 {
      log(current, metrics: metrics)
    } else {
      update(current, metrics: metrics)
    }
  }
}
