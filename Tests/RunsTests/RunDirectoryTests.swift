import Foundation
import Runs
import XCTest

private struct Config: Codable, Equatable {
  var seed: UInt64
  var learningRate: Double
  var name: String
}

final class RunDirectoryTests: XCTestCase {
  func testCreatesNestedDirectoryAndWritesSortedPrettyConfig() throws {
    let parent = try makeTemporaryDirectory(self)
    let run = try RunDirectory.create(at: parent.appendingPathComponent("a/b/run"))
    let config = Config(seed: 7, learningRate: 0.025, name: "search/debug")
    try run.write(config, to: .config)
    let text = try String(contentsOf: run.url(of: .config), encoding: .utf8)
    XCTAssertEqual(text, "{\n  \"learningRate\" : 0.025,\n  \"name\" : \"search/debug\",\n  \"seed\" : 7\n}\n")
    XCTAssertEqual(try run.read(Config.self, from: .config), config)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.url.path), ["config.json"])
  }

  func testAcceptsAnExistingEmptyDirectory() throws {
    let directory = try makeTemporaryDirectory(self)
    XCTAssertEqual(try RunDirectory.create(at: directory).url.path, directory.standardizedFileURL.path)
  }

  func testRefusesANonEmptyDirectory() throws {
    let directory = try makeTemporaryDirectory(self)
    try Data("{}".utf8).write(to: directory.appendingPathComponent("config.json"))
    XCTAssertThrowsError(try RunDirectory.create(at: directory)) { error in
      XCTAssertEqual((error as? RunDirectoryError)?.problem, .notEmpty)
      assertOneLine(error, naming: directory.path)
    }
  }

  func testRefusesAParentThatIsAFile() throws {
    let file = try makeTemporaryDirectory(self).appendingPathComponent("file")
    try Data().write(to: file)
    let target = file.appendingPathComponent("run")
    XCTAssertThrowsError(try RunDirectory.create(at: target)) { error in
      guard case .cannotCreate = (error as? RunDirectoryError)?.problem else { return XCTFail("\(error)") }
      assertOneLine(error, naming: target.path)
    }
  }

  func testRefusesAnUnwritableParent() throws {
    // Root bypasses permission bits, so as root the parent is a regular file, in which no
    // one can create entries (never skipped: this holds on every machine).
    let parent: URL
    if runningAsRoot {
      parent = try makeTemporaryDirectory(self).appendingPathComponent("a-file")
      try Data("not a directory".utf8).write(to: parent)
    } else {
      parent = try makeTemporaryDirectory(self)
      try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: parent.path)
    }
    let target = parent.appendingPathComponent("run")
    XCTAssertThrowsError(try RunDirectory.create(at: target)) { error in
      guard case .cannotCreate = (error as? RunDirectoryError)?.problem else { return XCTFail("\(error)") }
      assertOneLine(error, naming: target.path)
    }
  }

  func testRefusesAnUnwritableExistingDirectory() throws {
    try XCTSkipIf(runningAsRoot, "root ignores directory permissions")
    let directory = try makeTemporaryDirectory(self)
    try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: directory.path)
    XCTAssertThrowsError(try RunDirectory.create(at: directory)) { error in
      guard case .notWritable = (error as? RunDirectoryError)?.problem else { return XCTFail("\(error)") }
      assertOneLine(error, naming: directory.path)
    }
  }

  func testResumeNeedsAnExistingDirectoryWithACheckpoint() throws {
    let parent = try makeTemporaryDirectory(self)
    let missing = parent.appendingPathComponent("missing")
    XCTAssertThrowsError(try RunDirectory.resume(at: missing)) { error in
      XCTAssertEqual((error as? RunDirectoryError)?.problem, .missing)
      assertOneLine(error, naming: missing.path)
    }
    let run = try RunDirectory.create(at: parent.appendingPathComponent("run"))
    XCTAssertThrowsError(try RunDirectory.resume(at: run.url)) { error in
      XCTAssertEqual((error as? RunDirectoryError)?.problem, .noCheckpoint)
      assertOneLine(error, naming: run.url.path)
    }
    try Data().write(to: run.checkpointURL)
    let stale = run.url.appendingPathComponent(".checkpoint.safetensors.tmp-1-2")
    try Data().write(to: stale)
    XCTAssertEqual(try RunDirectory.resume(at: run.url).url, run.url)
    XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path), "stale temporary file not removed")
  }

  func testReadingAMissingOrMalformedArtifactNamesTheFile() throws {
    let run = try RunDirectory.create(at: makeTemporaryDirectory(self))
    XCTAssertThrowsError(try run.read(Config.self, from: .genotype)) { error in
      assertOneLine(error, naming: run.url(of: .genotype).path)
    }
    try Data("{\"seed\": 1}".utf8).write(to: run.url(of: .config))
    XCTAssertThrowsError(try run.read(Config.self, from: .config)) { error in
      assertOneLine(error, naming: run.url(of: .config).path)
    }
  }
}
