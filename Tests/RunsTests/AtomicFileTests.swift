import Foundation
import Runs
import XCTest

private struct ProducerFailure: Error {}

final class AtomicFileTests: XCTestCase {
  func testReplacesContentsAndLeavesNoTemporaryFiles() throws {
    let directory = try makeTemporaryDirectory(self)
    let url = directory.appendingPathComponent("config.json")
    try AtomicFile.write(Data("first".utf8), to: url)
    try AtomicFile.write(to: url) { sink in
      try sink.write(Data("sec".utf8))
      try sink.write(Data("ond".utf8))
    }
    XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "second")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["config.json"])
  }

  func testThrowingProducerLeavesOldFileIntactAndNoTemporaryFiles() throws {
    let directory = try makeTemporaryDirectory(self)
    let url = directory.appendingPathComponent("checkpoint.safetensors")
    try AtomicFile.write(Data("good".utf8), to: url)
    XCTAssertThrowsError(
      try AtomicFile.write(to: url) { sink in
        try sink.write(Data(repeating: 7, count: 100_000))  // half-written, then the producer fails
        throw ProducerFailure()
      }
    ) { XCTAssertTrue($0 is ProducerFailure) }
    XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "good")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["checkpoint.safetensors"])
  }

  func testUnwritableDirectoryLeavesOldFileIntact() throws {
    try XCTSkipIf(runningAsRoot, "root ignores directory permissions")
    let directory = try makeTemporaryDirectory(self)
    let url = directory.appendingPathComponent("genotype.json")
    try AtomicFile.write(Data("old".utf8), to: url)
    try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory.path)
    XCTAssertThrowsError(try AtomicFile.write(Data("new".utf8), to: url)) { error in
      assertOneLine(error, naming: url.path)
    }
    XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "old")
  }

  func testMissingDirectoryGivesOneLineError() throws {
    let url = try makeTemporaryDirectory(self).appendingPathComponent("absent/genotype.json")
    XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: url)) { error in
      XCTAssertEqual((error as? AtomicFileError)?.reason, "No such file or directory")
      assertOneLine(error, naming: url.path)
    }
  }

  func testRemoveStaleTemporariesKeepsOtherFiles() throws {
    let directory = try makeTemporaryDirectory(self)
    for name in [".checkpoint.safetensors.tmp-123-456", "checkpoint.safetensors", ".hidden"] {
      try Data().write(to: directory.appendingPathComponent(name))
    }
    AtomicFile.removeStaleTemporaries(in: directory)
    XCTAssertEqual(
      Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)), ["checkpoint.safetensors", ".hidden"])
  }
}
