import Datasets
import Foundation
import XCTest

/// The PTB / WikiText text format (SPEC-RNN §5): tokenisation, ids by first occurrence over
/// train → valid → test, the three file layouts, bad input, and `batchify` / `get_batch`.
final class TextCorpusTests: XCTestCase {
  func directory(_ files: [String: Data]) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    for (name, contents) in files { try contents.write(to: url.appendingPathComponent(name)) }
    return url
  }

  func testTokensEndOfSentenceAndIdsByFirstOccurrence() throws {
    // Leading spaces, tabs, a blank line (a lone <eos>), no final newline in test.
    let url = try directory([
      "train.txt": Data(" a b \n\n c\ta\n".utf8),
      "valid.txt": Data(" d a\n".utf8),
      "test.txt": Data(" e".utf8),
    ])
    let corpus = try TextCorpus.load(from: url)
    XCTAssertEqual(corpus.vocabulary, ["a", "b", "<eos>", "c", "d", "e"])
    XCTAssertEqual(corpus.train, [0, 1, 2, 2, 3, 0, 2])
    XCTAssertEqual(corpus.valid, [4, 0, 2])
    XCTAssertEqual(corpus.test, [5, 2])
  }

  func testPTBAndWikiTextFileNames() throws {
    for names in TextCorpus.layouts.dropFirst() {
      let url = try directory(Dictionary(uniqueKeysWithValues: names.map { ($0, Data(" x y\n".utf8)) }))
      XCTAssertEqual(try TextCorpus.load(from: url).train, [0, 1, 2], names[0])
    }
  }

  func testTheShippedDemoCorpus() throws {
    let corpus = try TextCorpus.load(from: TextCorpus.demoDirectory)
    XCTAssertEqual([corpus.train.count, corpus.valid.count, corpus.test.count], [90_631, 9_093, 9_171])
    XCTAssertEqual(corpus.vocabulary.count, 152)
    XCTAssert(corpus.vocabulary.contains("<unk>"))
    XCTAssertEqual(corpus.train.filter { corpus.vocabulary[$0] == "<eos>" }.count, 9_000)
  }

  func testBadInputNamesTheFile() throws {
    func failure(_ url: URL, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
      XCTAssertThrowsError(try TextCorpus.load(from: url), file: file, line: line) { error in
        let description = "\(error)"
        XCTAssert(description.contains(text), description, file: file, line: line)
        XCTAssertFalse(description.contains("\n"), file: file, line: line)
      }
    }
    let good = Data(" a\n".utf8)
    failure(URL(fileURLWithPath: "/nonexistent/corpus"), "/nonexistent/corpus: no such file")
    let empty = try directory([:])
    failure(empty, "no training file")
    failure(empty.appendingPathComponent("x"), "no such file")
    let noValid = try directory(["train.txt": good, "test.txt": good])
    failure(noValid, "valid.txt: no such file")
    let binary = try directory(["train.txt": Data([0x20, 0xFF, 0xFE, 0x0A]), "valid.txt": good, "test.txt": good])
    failure(binary, "train.txt: not UTF-8 text")
    let blank = try directory(["train.txt": good, "valid.txt": Data(), "test.txt": good])
    failure(blank, "valid.txt: holds no text")
    let notDirectory = try directory(["train.txt": good])
    failure(notDirectory.appendingPathComponent("train.txt"), "is a file, expected a directory")
  }

  func testColumnsAreContiguousStreamsAndSegmentsShiftByOne() {
    let columns = TokenColumns(Array(0..<11), columns: 3)  // 11 // 3 = 3 rows, token 9, 10 dropped
    XCTAssertEqual(columns.rows, 3)
    XCTAssertEqual(columns.ids, [0, 3, 6, 1, 4, 7, 2, 5, 8])
    let first = columns.segment(at: 0, length: 35)
    XCTAssertEqual(first.length, 2)
    XCTAssertEqual(first.input, [0, 3, 6, 1, 4, 7])
    XCTAssertEqual(first.target, [1, 4, 7, 2, 5, 8])
    let last = columns.segment(at: 1, length: 1)
    XCTAssertEqual(last.input, [1, 4, 7])
    XCTAssertEqual(last.target, [2, 5, 8])
  }
}
