/// The header of an IDX file of unsigned bytes (MNIST's format): the magic number
/// `0x0000_08nn` (`nn` dimensions), then each dimension as a big-endian 32-bit count.
public struct IDXHeader: Equatable, Sendable {
  /// The dimensions, outermost first (`[N, 28, 28]` for MNIST images).
  public let dimensions: [Int]
  /// Bytes of the header: 4 for the magic number and 4 per dimension.
  public let headerBytes: Int
  /// Bytes of the whole file the header describes: the header and one byte per element.
  public let fileBytes: Int

  /// Bytes of the header that `magic` announces (its low byte counts the dimensions).
  public static func byteCount(magic: UInt32) -> Int { 4 + 4 * Int(magic & 0xFF) }

  /// Parses the header at the start of `bytes` (the rest, if any, is not looked at).
  /// - Parameters:
  ///   - path: the file the bytes came from, for error messages.
  ///   - magic: the magic number the file must start with.
  ///   - itemDimensions: if given, the dimensions after the first that the file must have.
  /// - Throws: `DatasetError` naming `path`: too short for its header, wrong magic number,
  ///   wrong item dimensions, or a size that overflows.
  public init(_ bytes: ArraySlice<UInt8>, path: String, magic: UInt32, itemDimensions: [Int]? = nil) throws {
    func word(_ offset: Int) -> UInt32 {
      let start = bytes.startIndex + offset
      return bytes[start..<(start + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
    guard bytes.count >= 4 else {
      throw DatasetError.wrongSize(path: path, bytes: bytes.count, expectedBytes: 4)
    }
    let found = word(0)
    guard found == magic else {
      throw DatasetError.badMagic(path: path, found: found, expected: magic)
    }
    let headerBytes = Self.byteCount(magic: magic)
    guard bytes.count >= headerBytes else {
      throw DatasetError.wrongSize(path: path, bytes: bytes.count, expectedBytes: headerBytes)
    }
    let dimensions = stride(from: 4, to: headerBytes, by: 4).map { Int(word($0)) }
    if let itemDimensions, Array(dimensions.dropFirst()) != itemDimensions {
      throw DatasetError.wrongDimensions(
        path: path, found: dimensions, expected: Array(dimensions.prefix(1)) + itemDimensions)
    }
    let elements = dimensions.reduce(Optional(1)) { product, dimension in
      product.flatMap { product in
        let (value, overflow) = product.multipliedReportingOverflow(by: dimension)
        return overflow ? nil : value
      }
    }
    guard let elements, case (let fileBytes, false) = elements.addingReportingOverflow(headerBytes) else {
      throw DatasetError.sizeOverflow(path: path, dimensions: dimensions)
    }
    self.dimensions = dimensions
    self.headerBytes = headerBytes
    self.fileBytes = fileBytes
  }
}

/// An IDX file split into its dimensions and its body (one byte per element, row-major).
public struct IDXArray: Equatable, Sendable {
  /// The dimensions, outermost first.
  public let dimensions: [Int]
  /// The elements, after the header.
  public let body: ArraySlice<UInt8>
}

extension DatasetReader {
  /// Parses a whole IDX file of unsigned bytes held in memory (raw, after any gunzip): its
  /// header (`IDXHeader`), then a body of exactly the size the header declares.
  /// - Parameters:
  ///   - path: the file the bytes came from, for error messages.
  ///   - magic: the magic number the file must start with (`idxImagesMagic`, `idxLabelsMagic`).
  ///   - itemDimensions: if given, the dimensions after the first that the file must have
  ///     (`[28, 28]` for MNIST images).
  /// - Throws: `DatasetError` naming `path`; never traps, whatever the bytes.
  public static func parseIDX(
    _ bytes: [UInt8], path: String, magic: UInt32, itemDimensions: [Int]? = nil
  ) throws -> IDXArray {
    let header = try IDXHeader(bytes[...], path: path, magic: magic, itemDimensions: itemDimensions)
    guard bytes.count == header.fileBytes else {
      throw DatasetError.wrongSize(path: path, bytes: bytes.count, expectedBytes: header.fileBytes)
    }
    return IDXArray(dimensions: header.dimensions, body: bytes[header.headerBytes...])
  }
}
