import Runs
import XCTest

/// Collects a display's output.
private final class Capture {
  var writes: [String] = []
  var text: String { writes.joined() }
}

final class ProgressDisplayTests: XCTestCase {
  func testPlainOutputIsOneLinePerLogWithoutControlCharacters() {
    let capture = Capture()
    let display = ProgressDisplay(label: "epoch 3", total: 10, isTerminal: false) { capture.writes.append($0) }
    for step in 1...10 {
      display.update(step, metrics: [("loss", 1.0 / Double(step)), ("acc", 0.1 * Double(step))])
      if step % 5 == 0 { display.log(step) }
    }
    display.message("genotype: normal=[sep_conv_3x3]")
    display.finish()

    let lines = capture.text.split(separator: "\n", omittingEmptySubsequences: false)
    XCTAssertEqual(lines.count, 4, capture.text)  // two logs, the message, and the empty tail
    XCTAssertTrue(lines[0].hasPrefix("epoch 3 5/10 (50%) elapsed 00:00 eta 00:00 loss=0.2 acc=0.5"), String(lines[0]))
    XCTAssertTrue(lines[1].hasPrefix("epoch 3 10/10 (100%)"), String(lines[1]))
    XCTAssertEqual(lines[2], "genotype: normal=[sep_conv_3x3]")
    let controls = capture.text.unicodeScalars.filter { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F }
    XCTAssertTrue(controls.isEmpty, "control characters in plain output: \(controls.map(\.value))")
  }

  func testTerminalRedrawsInPlaceAtARateLimit() {
    let capture = Capture()
    let display = ProgressDisplay(label: "train", total: 100_000, isTerminal: true, minimumRedrawInterval: .seconds(60)) {
      capture.writes.append($0)
    }
    for step in 1...100_000 { display.update(step, metrics: [("loss", 0.5)]) }
    // The first update draws; the rest fall inside the interval except the final step.
    XCTAssertEqual(capture.writes.count, 2)
    XCTAssertTrue(capture.writes.allSatisfy { $0.hasPrefix("\r\u{1B}[2K") && !$0.contains("\n") })
    XCTAssertTrue(capture.writes[1].contains("[####################]  100000/100000  100%"), capture.writes[1])
    XCTAssertTrue(capture.writes[1].hasSuffix("loss=0.5"))

    display.message("note")
    XCTAssertEqual(capture.writes.suffix(2), ["\r\u{1B}[2Knote\n", capture.writes[1]])
    display.finish()
    XCTAssertEqual(capture.writes.last, "\n")
  }
}
