import Diagnostics
import Foundation

/// A word-level language-modelling corpus in the Penn Treebank / WikiText text format
/// (SPEC-RNN §5): three splits, each one flat stream of token ids.
///
/// Each line is split on whitespace and followed by `<eos>` (an empty line is a lone `<eos>`).
/// Ids are given by first occurrence while reading the training file, then the validation file,
/// then the test file, with one dictionary for all three (`data.Corpus` of the reference).
public struct TextCorpus: Sendable, Equatable {
  /// The words by id.
  public var vocabulary: [String]
  public var train: [Int]
  public var valid: [Int]
  public var test: [Int]

  /// The end-of-sentence token appended to every line.
  public static let endOfSentence = "<eos>"
  /// The largest file read (WikiText-103's training file is 540 MB).
  public static let maximumFileBytes = 1 << 30
  /// The most distinct words (WikiText-103 has 267,735; a decoder row per word is allocated).
  public static let maximumVocabulary = 1_000_000

  /// The file names of the three splits, in the order they are looked for: DARTS' own
  /// (`train.txt`, as awd-lstm-lm's `getdata.sh` renames them), Mikolov's PTB and WikiText's.
  public static let layouts: [[String]] = [
    ["train.txt", "valid.txt", "test.txt"],
    ["ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"],
    ["wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"],
  ]

  public init(vocabulary: [String], train: [Int], valid: [Int], test: [Int]) {
    (self.vocabulary, self.train, self.valid, self.test) = (vocabulary, train, valid, test)
  }

  /// The corpus shipped with the package (`Sources/Datasets/DemoText`, written by
  /// `Scripts/make_demo_corpus.py`): 90,631 / 9,093 / 9,171 tokens of a generated grammar,
  /// 152 words.
  public static var demoDirectory: URL {
    Bundle.module.url(forResource: "DemoText", withExtension: nil)!
  }

  /// Reads the three splits of the first layout of ``layouts`` whose training file is in
  /// `directory`.
  /// - Throws: ``DatasetError`` naming the directory or file: no layout found, a missing,
  ///   unreadable, oversized, non-UTF-8 or empty file, a vocabulary past the limit.
  public static func load(from directory: URL) throws(DatasetError) -> TextCorpus {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
      throw .missingFile(path: directory.path)
    }
    guard isDirectory.boolValue else { throw .notADirectory(path: directory.path) }
    guard let names = layouts.first(where: { FileManager.default.fileExists(atPath: directory.appendingPathComponent($0[0]).path) }) else {
      throw .badText(path: directory.path, reason: "no training file (\(layouts.map { $0[0] }.joined(separator: ", ")))")
    }
    var dictionary = Dictionary<String, Int>()
    var vocabulary: [String] = []
    var splits: [[Int]] = []
    for name in names {
      let url = directory.appendingPathComponent(name)
      splits.append(try tokenize(url, dictionary: &dictionary, vocabulary: &vocabulary))
    }
    return TextCorpus(vocabulary: vocabulary, train: splits[0], valid: splits[1], test: splits[2])
  }

  /// The ids of the tokens of one file, adding new words to the dictionary.
  private static func tokenize(_ url: URL, dictionary: inout [String: Int], vocabulary: inout [String]) throws(DatasetError) -> [Int] {
    guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(path: url.path) }
    let size = ((try? FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path))?[.size] as? NSNumber)?.intValue ?? 0
    if size > maximumFileBytes {
      throw .badText(path: url.path, reason: "\(size) bytes, more than the \(maximumFileBytes) read")
    }
    let data: Data
    do { data = try readFile(url) } catch { throw DatasetError(error) }
    guard let text = String(data: data, encoding: .utf8) else { throw .badText(path: url.path, reason: "not UTF-8 text") }
    var ids: [Int] = []
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    if lines.last?.isEmpty ?? false { lines.removeLast() }  // the newline that ends the file
    for line in lines {
      for word in line.split(whereSeparator: \.isWhitespace) + [Substring(endOfSentence)] {
        if let id = dictionary[String(word)] {
          ids.append(id)
        } else {
          guard vocabulary.count < maximumVocabulary else {
            throw .badText(path: url.path, reason: "more than \(maximumVocabulary) distinct words")
          }
          dictionary[String(word)] = vocabulary.count
          ids.append(vocabulary.count)
          vocabulary.append(String(word))
        }
      }
    }
    guard !ids.isEmpty else { throw .badText(path: url.path, reason: "holds no text") }
    return ids
  }
}

/// A token stream cut into `columns` contiguous streams (`batchify` of the reference, SPEC-RNN
/// §5.3): `rows = count / columns` (the tail is dropped), and element `(t, b)` is token
/// `b·rows + t` of the stream, so column `b` reads the stream's `b`-th slice in order.
public struct TokenColumns: Sendable, Equatable {
  public let rows: Int
  public let columns: Int
  /// `[rows × columns]`, row-major (time-major: row `t` holds step `t` of every column).
  public let ids: [Int]

  /// - Precondition: `columns ≥ 1`.
  public init(_ stream: [Int], columns: Int) {
    precondition(columns >= 1, "a batch needs at least one column")
    let rows = stream.count / columns
    (self.rows, self.columns) = (rows, columns)
    var ids = [Int](repeating: 0, count: rows * columns)
    for b in 0..<columns {
      for t in 0..<rows { ids[t * columns + b] = stream[b * rows + t] }
    }
    self.ids = ids
  }

  /// The segment starting at row `i` of (at most) `length` steps and its targets, the same
  /// rows shifted by one (`get_batch`): `length′ = min(length, rows − 1 − i)` rows each,
  /// flattened time-major (`[length′ × columns]`).
  /// - Precondition: `0 ≤ i < rows − 1`.
  public func segment(at i: Int, length: Int) -> (input: [Int], target: [Int], length: Int) {
    precondition(i >= 0 && i < rows - 1, "segment start \(i) outside 0..<\(rows - 1)")
    let steps = min(length, rows - 1 - i)
    return (Array(ids[(i * columns)..<((i + steps) * columns)]), Array(ids[((i + 1) * columns)..<((i + 1 + steps) * columns)]), steps)
  }
}
