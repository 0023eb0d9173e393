import Foundation
import Runs
import TensorBoard
import XCTest

final class TensorBoardMirrorTests: XCTestCase {
  /// The event files of `directory`.
  private func eventFiles(_ directory: URL) throws -> [URL] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path).filter(EventFileName.matches).sorted()
      .map { directory.appendingPathComponent($0) }
  }

  /// The records of an event file, each checked against its two checksums.
  private func records(_ url: URL) throws -> [[UInt8]] {
    let bytes = [UInt8](try Data(contentsOf: url))
    var records: [[UInt8]] = []
    var offset = 0
    while offset < bytes.count {
      let header = Array(bytes[offset..<offset + 8])
      let length = header.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
      func stored(_ at: Int) -> UInt32 { bytes[at..<at + 4].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
      XCTAssertEqual(stored(offset + 8), TFRecord.maskedChecksum(header))
      let data = Array(bytes[offset + 12..<offset + 12 + length])
      XCTAssertEqual(stored(offset + 12 + length), TFRecord.maskedChecksum(data))
      records.append(data)
      offset += 16 + length
    }
    return records
  }

  private func stepEvent(_ step: Int) -> [String: JSONValue] {
    ["type": "step", "global_step": .int(step), "loss": .double(1 / Double(step)), "seconds": 0.5]
  }

  func testTheEventFileMirrorsTheLogAndIsRewrittenFromIt() throws {
    let directory = try RunDirectory.create(at: makeTemporaryDirectory(self).appendingPathComponent("run"))
    let journal = try RunJournal(directory: directory) { _ in }
    try journal.log(["type": "epoch_start", "epoch": 0, "lr": 0.1])
    for step in 1...3 { try journal.log(stepEvent(step)) }
    try journal.log(["type": "stage_start", "stage": 1])  // nothing to plot: no record
    let files = try eventFiles(directory.url)
    XCTAssertEqual(files.count, 1)
    let live = try records(files[0])
    XCTAssertEqual(live.count, 1 + 4)

    // The records are those of the logged events, wall time and event number included.
    let logged = try EventLog.events(at: directory.eventsURL)
    var summaries = JournalSummaries()
    XCTAssertEqual(Array(live.dropFirst()), logged.compactMap { summaries.event(for: $0, fallbackWallTime: 0)?.encoded })
    XCTAssertEqual(logged.compactMap { $0["wall_time"]?.number }.count, 5, "every event has its wall time")

    // Rewriting from events.jsonl gives the same records after the version record.
    try FileManager.default.removeItem(at: files[0])
    let rewritten = try TensorBoardMirror.rewrite(runAt: directory.url)
    XCTAssertEqual(try eventFiles(directory.url), [rewritten])
    XCTAssertEqual(Array(try records(rewritten).dropFirst()), Array(live.dropFirst()))
  }

  func testAResumedJournalRewritesTheFileFromTheCutLogAndRemovesOldFiles() throws {
    let directory = try RunDirectory.create(at: makeTemporaryDirectory(self).appendingPathComponent("run"))
    let first = try RunJournal(directory: directory) { _ in }
    for step in 1...4 { try first.log(stepEvent(step)) }
    let stale = directory.url.appendingPathComponent(EventFileName.make(wallTime: 1, host: "elsewhere"))
    try Data([1, 2, 3]).write(to: stale)

    // Resumed from a checkpoint taken after event 1 (global step 2): events 2 and 3 go.
    let resumed = try RunJournal(directory: directory, resumingAt: 2) { _ in }
    try resumed.log(stepEvent(3))
    let files = try eventFiles(directory.url)
    XCTAssertEqual(files.count, 1, "\(files)")
    var summaries = JournalSummaries()
    let expected = try EventLog.events(at: directory.eventsURL).compactMap { summaries.event(for: $0, fallbackWallTime: 0)?.encoded }
    XCTAssertEqual(expected.count, 3)
    XCTAssertEqual(Array(try records(files[0]).dropFirst()), expected)
    XCTAssertEqual(summaries.step, 3)
  }

  func testRewritingNamesTheLogThatCannotBeRead() throws {
    let root = try makeTemporaryDirectory(self)
    let missing = root.appendingPathComponent("nope")
    XCTAssertThrowsError(try TensorBoardMirror.rewrite(runAt: missing)) { assertOneLine($0, naming: missing.appendingPathComponent("events.jsonl").path) }
    let run = root.appendingPathComponent("run")
    try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
    try Data("{\"type\": \"step\"}\nnot json\n".utf8).write(to: run.appendingPathComponent("events.jsonl"))
    XCTAssertThrowsError(try TensorBoardMirror.rewrite(runAt: run)) { error in
      assertOneLine(error, naming: run.appendingPathComponent("events.jsonl").path)
      XCTAssert("\(error)".contains("line 2"), "\(error)")
    }
    XCTAssertEqual(try eventFiles(run), [], "no event file from a corrupt log")
  }
}
