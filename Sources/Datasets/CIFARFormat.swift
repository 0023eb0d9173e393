/// The two CIFAR binary layouts: records of label bytes then 3072 pixel bytes (R, G, B planes
/// of 32×32).
public enum CIFARFormat: Sendable {
  /// CIFAR-10: one label byte, 10 classes.
  case cifar10
  /// CIFAR-100: a coarse and a fine label byte (the fine one is used), 100 classes.
  case cifar100

  /// Label bytes at the start of each record; the last one is the label used.
  public var labelBytes: Int { self == .cifar10 ? 1 : 2 }
  /// Number of classes of the label used.
  public var classCount: Int { self == .cifar10 ? 10 : 100 }
  /// Pixel bytes of each record.
  public static let imageBytes = 3 * 32 * 32
  /// Bytes of each record.
  public var recordBytes: Int { labelBytes + Self.imageBytes }
}

/// The records of one CIFAR binary file.
public struct CIFARRecords: Equatable, Sendable {
  /// `3072 · labels.count` bytes: each image's R, G, B planes of 32×32.
  public let pixels: [UInt8]
  /// The label of each record, in `0..<classCount`.
  public let labels: [Int]
}

extension DatasetReader {
  /// Parses a CIFAR binary file held in memory.
  /// - Parameters:
  ///   - path: the file the bytes came from, for error messages.
  ///   - records: records the file must hold; nil accepts any whole number of records.
  /// - Throws: `DatasetError` naming `path`: not a whole number of records, another number of
  ///   records than `records`, or a label outside the format's classes. Never traps, whatever
  ///   the bytes.
  public static func parseCIFAR(
    _ bytes: [UInt8], path: String, format: CIFARFormat, records: Int? = nil
  ) throws -> CIFARRecords {
    try checkCIFARSize(bytes.count, path: path, format: format, records: records)
    let recordBytes = format.recordBytes
    let count = bytes.count / recordBytes
    var pixels: [UInt8] = []
    pixels.reserveCapacity(count * CIFARFormat.imageBytes)
    let labels = try (0..<count).map { record in
      let start = record * recordBytes
      pixels += bytes[(start + format.labelBytes)..<(start + recordBytes)]
      return try checkedLabel(
        Int(bytes[start + format.labelBytes - 1]), index: record, classCount: format.classCount, path: path)
    }
    return CIFARRecords(pixels: pixels, labels: labels)
  }

  /// Checks that a CIFAR file of `byteCount` bytes holds a whole number of records, and
  /// `records` of them when given.
  static func checkCIFARSize(_ byteCount: Int, path: String, format: CIFARFormat, records: Int?) throws {
    let recordBytes = format.recordBytes
    let count = byteCount / recordBytes
    if byteCount.isMultiple(of: recordBytes) {
      guard let records, count != records else { return }
      throw DatasetError.recordCount(path: path, records: count, expected: records)
    }
    let (expected, overflow) = max(0, records ?? count).multipliedReportingOverflow(by: recordBytes)
    throw DatasetError.wrongSize(path: path, bytes: byteCount, expectedBytes: overflow ? .max : expected)
  }
}
