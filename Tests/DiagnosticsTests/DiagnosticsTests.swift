import Diagnostics
import Foundation
import XCTest

final class DiagnosticsTests: XCTestCase {
  private struct Settings: Codable {
    var batchSize: Int
    var learningRate: Double
    var sizes: [Int]
  }

  private func problem(_ json: String) -> String? {
    do {
      _ = try JSONDiagnostics.decode(Settings.self, from: Data(json.utf8))
      return nil
    } catch {
      return error.description
    }
  }

  func testANumberThatDoesNotFitAnIntegerFieldIsNamedNotCalledInvalidJSON() {
    XCTAssertEqual(problem(#"{"batchSize": 1.5, "learningRate": 0.025, "sizes": [1]}"#), "batchSize: 1.5 is not an integer in the range of this field")
    XCTAssertEqual(problem(#"{"batchSize": 2, "learningRate": 0.5, "sizes": [1, 1e300]}"#), "sizes.1: 1e+300 is not an integer in the range of this field")
  }

  func testMissingKeysWrongTypesAndBadSyntaxAreOneLine() throws {
    XCTAssertEqual(problem(#"{"batchSize": 2, "sizes": []}"#), "missing key 'learningRate'")
    XCTAssertEqual(problem(#"{"batchSize": "x", "learningRate": 1, "sizes": []}"#), "batchSize: expected an integer, found a string")
    XCTAssertEqual(problem(#"{"batchSize": null, "learningRate": 1, "sizes": []}"#), "batchSize: expected an integer, found null")
    let syntax = try XCTUnwrap(problem(#"{"batchSize": 2,"#))
    XCTAssert(syntax.hasPrefix("is not valid JSON"), syntax)
    XCTAssertFalse(syntax.contains("\n"), syntax)
    XCTAssertNil(problem(#"{"batchSize": 2, "learningRate": 1, "sizes": [3]}"#))
  }

  func testFileErrorsSayWhatIsWrong() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("diagnostics-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    XCTAssertThrowsError(try readFile(directory)) { error in
      XCTAssertEqual("\(error)", "\(directory.path): is a directory, not a file")
    }
    XCTAssertThrowsError(try readFile(URL(fileURLWithPath: "/dev/null"))) { error in
      XCTAssertEqual("\(error)", "/dev/null: is not a regular file (a device, socket or pipe)")
    }
    let fifo = directory.appendingPathComponent("fifo")
    XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
    XCTAssertThrowsError(try readFile(fifo), "a FIFO is refused, not read (which would block)") { error in
      XCTAssertEqual("\(error)", "\(fifo.path): is not a regular file (a device, socket or pipe)")
    }
    let missing = directory.appendingPathComponent("missing.json")
    XCTAssertThrowsError(try readFile(missing)) { error in
      XCTAssertEqual("\(error)", "\(missing.path): no such file")
    }
  }
}
