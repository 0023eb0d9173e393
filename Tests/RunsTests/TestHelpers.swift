import Foundation
import XCTest

/// A fresh directory under the system temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("RunsTests-\(UUID().uuidString)", isDirectory: true)
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  test.addTeardownBlock {
    // Restore permissions changed by a test so that the directory can be removed.
    _ = try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    try? FileManager.default.removeItem(at: url)
  }
  return url
}

/// Asserts that an error's description is a single line that names `path`.
func assertOneLine(
  _ error: any Error, naming path: String, file: StaticString = #filePath, line: UInt = #line
) {
  let text = String(describing: error)
  XCTAssertFalse(text.contains("\n"), "multi-line error: \(text)", file: file, line: line)
  XCTAssertTrue(text.contains(path), "error does not name \(path): \(text)", file: file, line: line)
}

/// True when the tests run as root, which ignores file permissions.
var runningAsRoot: Bool { geteuid() == 0 }
