import Diagnostics
import Foundation

/// Why a dataset could not be read. Every case names the file (or directory) at fault, and
/// `description` is a single line suitable for a command-line error message.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
  /// A required file or directory does not exist.
  case missingFile(path: String)
  /// A file exists but could not be read: a directory or another non-regular file, permissions,
  /// an I/O error. `reason` is a short phrase ("is a directory, not a file", "permission denied").
  case unreadable(path: String, reason: String)
  /// A path that must be a directory is a file.
  case notADirectory(path: String)
  /// A file is shorter (or longer) than its format requires.
  case wrongSize(path: String, bytes: Int, expectedBytes: Int)
  /// A file holds a whole number of records, but not as many as the format requires.
  case recordCount(path: String, records: Int, expected: Int)
  /// An IDX file does not start with the expected magic number.
  case badMagic(path: String, found: UInt32, expected: UInt32)
  /// An IDX image file has the wrong image dimensions.
  case wrongDimensions(path: String, found: [Int], expected: [Int])
  /// An IDX header declares dimensions whose product overflows a byte count.
  case sizeOverflow(path: String, dimensions: [Int])
  /// A file's header declares more items than this machine's memory can hold.
  case exceedsMemory(path: String, items: Int, bytes: Int, memory: Int)
  /// An image file and its label file disagree on the number of items.
  case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
  /// A label is outside `0..<classCount`.
  case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
  /// A gzip stream is truncated or corrupt.
  case corruptGzip(path: String, reason: String)
  /// A gzip stream inflates to more bytes than its contents promise (a decompression bomb).
  case inflatesPastLimit(path: String, limit: Int, promise: String)
  /// The directory holds a different dataset format than the one asked for.
  case wrongFormat(path: String, found: String, expected: String)
  /// No directory was given and the dataset kind has no default location.
  case noDirectory(kind: String)
  /// An image file is not a JPEG or PNG, or is corrupt or truncated.
  case corruptImage(path: String, reason: String)
  /// An image header declares more pixels than the decoder allows (a decompression bomb).
  case imageTooLarge(path: String, width: Int, height: Int, maximumPixels: Int)
  /// An image folder is empty, has an empty class folder, or otherwise cannot be used.
  case badImageFolder(path: String, reason: String)
  /// A text corpus directory or file cannot be used (no split files, not UTF-8, empty, too large).
  case badText(path: String, reason: String)

  public var description: String {
    switch self {
    case .missingFile(let path):
      return "\(path): no such file or directory"
    case .unreadable(let path, let reason):
      return "\(path): \(reason)"
    case .notADirectory(let path):
      return "\(path): is a file, expected a directory"
    case .wrongSize(let path, let bytes, let expected):
      let problem = bytes < expected ? "truncated" : "too long"
      return "\(path): \(problem): \(bytes) bytes, expected \(expected)"
    case .recordCount(let path, let records, let expected):
      return "\(path): holds \(records) records, expected \(expected)"
    case .badMagic(let path, let found, let expected):
      return "\(path): bad IDX magic number 0x\(hex(found)), expected 0x\(hex(expected))"
    case .wrongDimensions(let path, let found, let expected):
      return "\(path): wrong dimensions \(dims(found)), expected \(dims(expected))"
    case .sizeOverflow(let path, let dimensions):
      return "\(path): IDX header declares \(dims(dimensions)) bytes, more than any file can hold"
    case .exceedsMemory(let path, let items, let bytes, let memory):
      return "\(path): declares \(items) items, which need \(bytes) bytes in memory, more than this machine's \(memory) bytes"
    case .countMismatch(let imagesPath, let images, let labelsPath, let labels):
      return "\(imagesPath): holds \(images) images but \(labelsPath) holds \(labels) labels"
    case .labelOutOfRange(let path, let index, let label, let classCount):
      return "\(path): label \(label) of item \(index) is outside 0..<\(classCount)"
    case .corruptGzip(let path, let reason):
      return "\(path): corrupt or truncated gzip data (\(reason))"
    case .inflatesPastLimit(let path, let limit, let promise):
      return "\(path): gzip data inflates past the \(limit) bytes \(promise)"
    case .wrongFormat(let path, let found, let expected):
      return "\(path): holds \(found) data, expected \(expected)"
    case .noDirectory(let kind):
      return "\(kind): no data directory given and no default location (use --data)"
    case .corruptImage(let path, let reason):
      return "\(path): unreadable image (\(reason))"
    case .imageTooLarge(let path, let width, let height, let maximumPixels):
      return "\(path): image declares \(width)×\(height) pixels, more than the \(maximumPixels) allowed"
    case .badImageFolder(let path, let reason), .badText(let path, let reason):
      return "\(path): \(reason)"
    }
  }

  public var errorDescription: String? { description }

  /// `.unreadable` for a file the shared reader refused or failed to read.
  init(_ error: FileReadError) {
    self = .unreadable(path: error.path, reason: error.problem)
  }
}

private func hex(_ value: UInt32) -> String {
  let digits = String(value, radix: 16)
  return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

private func dims(_ values: [Int]) -> String { values.map(String.init).joined(separator: "×") }
