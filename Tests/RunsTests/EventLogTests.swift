import Foundation
import Runs
import XCTest

private struct EpochEvent: Encodable {
  var event = "epoch"
  var step: Int
  var loss: Double
}

/// The lines of `url` (without their newlines) and whether the file ends with a newline.
private func lines(_ url: URL) throws -> (lines: [String], endsWithNewline: Bool) {
  let text = try String(contentsOf: url, encoding: .utf8)
  return (text.split(separator: "\n").map(String.init), text.hasSuffix("\n"))
}

final class EventLogTests: XCTestCase {
  func testAppendsOneSortedJSONObjectPerLineVisibleImmediately() throws {
    let url = try makeTemporaryDirectory(self).appendingPathComponent("events.jsonl")
    let log = try EventLog(url: url)
    try log.append(EpochEvent(step: 1, loss: 2.5))
    try log.append(["step": 2, "event": "genotype", "normal": ["sep_conv_3x3", 0], "note": "a\nb"])
    try log.append(["step": 3, "loss": .double(.nan)])
    // Read while the log is still open: each append has reached the file.
    let (written, endsWithNewline) = try lines(url)
    XCTAssertTrue(endsWithNewline)
    XCTAssertEqual(written, [
      #"{"event":"epoch","loss":2.5,"step":1}"#,
      #"{"event":"genotype","normal":["sep_conv_3x3",0],"note":"a\nb","step":2}"#,
      #"{"loss":"NaN","step":3}"#,
    ])
    withExtendedLifetime(log) {}
  }

  func testOpeningTruncatesAPartialTrailingLine() throws {
    let url = try makeTemporaryDirectory(self).appendingPathComponent("events.jsonl")
    try Data("{\"step\":1}\n{\"step\":2}\n{\"step\":3,\"lo".utf8).write(to: url)
    let log = try EventLog(url: url)
    try log.append(["step": 3])
    XCTAssertEqual(try lines(url).lines, [#"{"step":1}"#, #"{"step":2}"#, #"{"step":3}"#])
  }

  func testResumingDropsEventsPastTheCursor() throws {
    let url = try makeTemporaryDirectory(self).appendingPathComponent("events.jsonl")
    do {
      let log = try EventLog(url: url)
      for step in 1...5 {
        try log.append(["step": .int(step)])
        if step == 3 { try log.append(["event": "checkpoint"]) }
      }
    }
    let resumed = try EventLog(url: url, resumingAfter: 3)
    XCTAssertEqual(try lines(url).lines, [#"{"step":1}"#, #"{"step":2}"#, #"{"step":3}"#, #"{"event":"checkpoint"}"#])
    try resumed.append(["step": 4])
    XCTAssertEqual(try lines(url).lines.last, #"{"step":4}"#)

    let byEpoch = try EventLog(url: url, resumingAfter: 1, cursorKey: "step")
    XCTAssertEqual(try lines(url).lines, [#"{"step":1}"#])
    withExtendedLifetime(byEpoch) {}
  }

  func testCorruptCompleteLineIsAnErrorNamingTheFile() throws {
    let url = try makeTemporaryDirectory(self).appendingPathComponent("events.jsonl")
    try Data("{\"step\":1}\nnot json\n{\"step\":3}\n".utf8).write(to: url)
    XCTAssertThrowsError(try EventLog(url: url)) { error in
      XCTAssertEqual((error as? EventLogError)?.problem, .corruptLine(2))
      assertOneLine(error, naming: url.path)
    }
  }

  func testJSONValueRoundTrips() throws {
    let value: JSONValue = ["a": [1, 2.5, "x", true, nil], "b": ["c": -3]]
    let decoded = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    XCTAssertEqual(decoded, value)
  }
}
