import Datasets
import Foundation
import TensorCore
import XCTest
import _TestSupport

/// Every byte-level parser, fed seeded mutations of a valid file (bytes changed, inserted,
/// removed, cut, header sizes set to extremes), either parses or throws a one-line
/// `DatasetError` naming the file: never a trap or another error. A fast, deterministic
/// complement to the libFuzzer targets.
final class ParserMutationTests: XCTestCase {
  let rounds = 1000

  /// `bytes` mutated a few times at random.
  func mutated(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
    var bytes = bytes
    for _ in 0..<Int.random(in: 1...4, using: &generator) {
      let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
      switch Int.random(in: 0..<5, using: &generator) {
      case 0 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &generator)
      case 1: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
      case 2 where !bytes.isEmpty: bytes.remove(at: position)
      case 3: bytes = Array(bytes.prefix(position))
      default:
        // A header-sized field set to all ones or zeros (sizes, dimensions, lengths).
        let end = min(bytes.count, position + 4)
        let value: UInt8 = Bool.random(using: &generator) ? 0xFF : 0
        for i in position..<end { bytes[i] = value }
      }
    }
    return bytes
  }

  /// Runs `parse` on `rounds` mutations of `seed`, checking that every failure is a one-line
  /// `DatasetError` naming `path`; returns how many mutations parsed.
  @discardableResult
  func fuzz(_ seed: [UInt8], path: String, seedValue: UInt64, _ parse: ([UInt8]) throws -> Void) -> Int {
    var generator = SeededGenerator(seed: seedValue)
    var parsed = 0
    for _ in 0..<rounds {
      let input = mutated(seed, using: &generator)
      do {
        try parse(input)
        parsed += 1
      } catch let error as DatasetError {
        XCTAssert(error.description.hasPrefix(path + ": "), "\(error)")
        XCTAssertFalse(error.description.contains("\n"), "\(error)")
      } catch {
        XCTFail("not a DatasetError: \(error)")
      }
    }
    return parsed
  }

  func testIDXMutations() {
    let images = idxBytes(dimensions: [2, 28, 28], body: pixelPattern(image: 0, size: 2 * 784))
    fuzz(images, path: "i.idx", seedValue: 1) {
      _ = try DatasetReader.parseIDX($0, path: "i.idx", magic: DatasetReader.idxImagesMagic, itemDimensions: [28, 28])
    }
    fuzz(idxBytes(dimensions: [3], body: [1, 2, 3]), path: "l.idx", seedValue: 2) {
      _ = try DatasetReader.parseIDX($0, path: "l.idx", magic: DatasetReader.idxLabelsMagic)
    }
  }

  func testGzipMutations() throws {
    let directory = try makeTemporaryDirectory(self)
    let file = directory.appendingPathComponent("x")
    try Data(idxBytes(dimensions: [2, 28, 28], body: pixelPattern(image: 0, size: 2 * 784))).write(to: file)
    try gzip(file)
    let compressed = try [UInt8](Data(contentsOf: directory.appendingPathComponent("x.gz")))
    let limit = Gzip.Limit(headerBytes: 16, promise: "its IDX header promises") {
      try IDXHeader($0, path: "x.gz", magic: DatasetReader.idxImagesMagic).fileBytes
    }
    let parsed = fuzz(compressed, path: "x.gz", seedValue: 3) {
      let inflated = try Gzip.decompress($0, path: "x.gz", limit: limit)
      XCTAssertLessThanOrEqual(inflated.count, 2 * 784 + 16)
    }
    XCTAssertLessThan(parsed, rounds, "the mutations are mostly corrupt")
  }

  func testCIFARMutations() {
    let records = [UInt8](repeating: 7, count: 2 * 3074)
    for (index, format) in [CIFARFormat.cifar10, .cifar100].enumerated() {
      fuzz(records, path: "c.bin", seedValue: 4 + UInt64(index)) {
        let parsed = try DatasetReader.parseCIFAR($0, path: "c.bin", format: format)
        XCTAssertEqual(parsed.pixels.count, parsed.labels.count * 3072)
      }
    }
  }

  func testImageMutations() {
    let pixels = pixelPattern(image: 1, size: 24 * 16 * 3)
    let seeds: [[UInt8]] = [
      [UInt8](encodePNG(pixels, width: 24, height: 16, kind: .rgb)),
      [UInt8](encodeJPEG(pixels, width: 24, height: 16)),
      [UInt8](encodeJPEG(pixels, width: 24, height: 16, progressive: true)),
    ]
    for (index, seed) in seeds.enumerated() {
      fuzz(seed, path: "m.img", seedValue: 10 + UInt64(index)) {
        let image = try ImageDecoder.decode(Data($0), path: "m.img", maximumPixels: 1 << 20)
        XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
      }
    }
  }
}
