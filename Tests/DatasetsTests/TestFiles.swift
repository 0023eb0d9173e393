import Datasets
import Foundation
import XCTest

/// A fresh temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> URL {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("DatasetsTests-\(UUID().uuidString)", isDirectory: true)
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
  return url
}

/// Deterministic pixel bytes for image `image` of size `size`.
func pixelPattern(image: Int, size: Int) -> [UInt8] {
  (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ image &* 31 &+ 3) }
}

/// 50 single-channel 6×6 images of distinct `pixelPattern`s; label = index mod 10.
let patternDataset = ImageDataset(
  pixels: (0..<50).flatMap { pixelPattern(image: $0, size: 36) }, labels: (0..<50).map { $0 % 10 },
  channels: 1, height: 6, width: 6, classCount: 10,
  normalization: Normalization(mean: [0.3], std: [0.2]))

/// Writes a CIFAR binary file: each record is `labelBytes(record)` then 3072 pattern pixels.
/// Returns the pixels written, record after record.
@discardableResult
func writeCIFAR(
  _ url: URL, records: Range<Int>, labelBytes: (Int) -> [UInt8]
) throws -> [UInt8] {
  var file: [UInt8] = []
  var pixels: [UInt8] = []
  for record in records {
    let image = pixelPattern(image: record, size: 3072)
    file += labelBytes(record) + image
    pixels += image
  }
  try Data(file).write(to: url)
  return pixels
}

/// The bytes of an IDX file of unsigned bytes with `dimensions` and `body`.
func idxBytes(dimensions: [Int], body: [UInt8]) -> [UInt8] {
  [0, 0, 8, UInt8(dimensions.count)] + dimensions.flatMap { bigEndian(UInt32(truncatingIfNeeded: $0)) } + body
}

/// Writes an MNIST-style pair for `part` (`train` or `t10k`) holding `labels.count` 28×28 images.
/// Returns the pixels written.
@discardableResult
func writeIDXPair(_ directory: URL, prefix: String, labels: [UInt8]) throws -> [UInt8] {
  let pixels = (0..<labels.count).flatMap { pixelPattern(image: $0, size: 784) }
  try Data(idxBytes(dimensions: [labels.count, 28, 28], body: pixels))
    .write(to: directory.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
  try Data(idxBytes(dimensions: [labels.count], body: labels))
    .write(to: directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
  return pixels
}

/// Compresses `url` to `url.gz` with the system gzip and removes the original.
func gzip(_ url: URL) throws {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["gzip", "-n", "-f", url.path]
  try process.run()
  process.waitUntilExit()
  XCTAssertEqual(process.terminationStatus, 0, "gzip \(url.path)")
}

/// Asserts that `body` throws a `DatasetError` whose one-line description mentions `path`, and
/// returns the error.
@discardableResult
func assertDatasetError(
  naming path: String, file: StaticString = #filePath, line: UInt = #line,
  _ body: () throws -> Any
) -> DatasetError? {
  do {
    _ = try body()
    XCTFail("no error; expected one naming \(path)", file: file, line: line)
    return nil
  } catch let error as DatasetError {
    XCTAssertTrue(error.description.contains(path), "\(error) does not name \(path)", file: file, line: line)
    XCTAssertFalse(error.description.contains("\n"), "multi-line message: \(error)", file: file, line: line)
    return error
  } catch {
    XCTFail("unexpected error type: \(error)", file: file, line: line)
    return nil
  }
}

/// CRC-32 (IEEE, as in PNG chunks and gzip trailers) of `bytes`.
func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
  var crc: UInt32 = 0xFFFF_FFFF
  for byte in bytes {
    crc ^= UInt32(byte)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
  }
  return ~crc
}

/// The 4 big-endian bytes of `value`.
func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
