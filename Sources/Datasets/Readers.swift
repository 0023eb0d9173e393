import Foundation

/// Readers for the on-disk dataset formats (SPEC §8.1). They read local files only and never
/// download anything; every failure is a `DatasetError` naming the file at fault.
public enum DatasetReader {
  /// Reads the CIFAR-10 binary version (`cifar-10-batches-bin`).
  ///
  /// The training set is `data_batch_1.bin` … `data_batch_5.bin` concatenated in that order
  /// (the order that defines the search split, SPEC §2.1); the test set is `test_batch.bin`.
  /// Each record is 1 label byte and 3072 pixel bytes (R, G, B planes of 32×32).
  /// - Parameters:
  ///   - directory: `cifar-10-batches-bin` itself or its parent.
  ///   - recordsPerFile: records each file must hold (10,000 in the real dataset).
  /// - Returns: images `[N, 3, 32, 32]` with CIFAR-10 normalisation.
  public static func cifar10(
    _ part: DatasetPart, directory: URL, recordsPerFile: Int = 10_000
  ) throws -> ImageDataset {
    let names =
      part == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
    let root = try resolve(
      directory, marker: [names[0]], subdirectory: "cifar-10-batches-bin", expected: cifar10Binary)
    var pixels: [UInt8] = []
    var labels: [Int] = []
    for name in names {
      try readCIFAR(
        root.appendingPathComponent(name), labelBytes: 1, records: recordsPerFile, classCount: 10,
        pixels: &pixels, labels: &labels)
    }
    return ImageDataset(
      pixels: pixels, labels: labels, channels: 3, height: 32, width: 32, classCount: 10,
      normalization: .cifar10)
  }

  /// Reads the CIFAR-100 binary version (`cifar-100-binary`): `train.bin` or `test.bin`,
  /// records of a coarse label byte, a fine label byte and 3072 pixel bytes. The fine labels
  /// (100 classes) are used.
  /// - Parameters:
  ///   - directory: `cifar-100-binary` itself or its parent.
  ///   - records: records the file must hold (nil: 50,000 for training, 10,000 for test).
  /// - Returns: images `[N, 3, 32, 32]` with CIFAR-100 normalisation (SPEC §8.2).
  public static func cifar100(
    _ part: DatasetPart, directory: URL, records: Int? = nil
  ) throws -> ImageDataset {
    let name = part == .train ? "train.bin" : "test.bin"
    let root = try resolve(
      directory, marker: [name], subdirectory: "cifar-100-binary", expected: cifar100Binary)
    var pixels: [UInt8] = []
    var labels: [Int] = []
    try readCIFAR(
      root.appendingPathComponent(name), labelBytes: 2,
      records: records ?? (part == .train ? 50_000 : 10_000), classCount: 100,
      pixels: &pixels, labels: &labels)
    return ImageDataset(
      pixels: pixels, labels: labels, channels: 3, height: 32, width: 32, classCount: 100,
      normalization: .cifar100)
  }

  /// Reads an MNIST-style IDX pair (MNIST, Fashion-MNIST): `train-images-idx3-ubyte` and
  /// `train-labels-idx1-ubyte`, or the `t10k-` pair for the test set. Each file may be raw or
  /// gzip-compressed (`.gz` appended); the raw file is preferred when both exist.
  /// - Parameters:
  ///   - directory: the directory holding the four files.
  ///   - normalization: the constants to attach (`.mnist` or `.fashionMNIST`).
  /// - Returns: images `[N, 1, 28, 28]`, 10 classes.
  public static func idx(
    _ part: DatasetPart, directory: URL, normalization: Normalization
  ) throws -> ImageDataset {
    let prefix = part == .train ? "train" : "t10k"
    let imagesName = "\(prefix)-images-idx3-ubyte"
    let labelsName = "\(prefix)-labels-idx1-ubyte"
    let root = try resolve(
      directory, marker: [imagesName, imagesName + ".gz"], subdirectory: nil, expected: idxFormat)
    let (imagesPath, imageBytes) = try readPossiblyCompressed(root, imagesName)
    let (labelsPath, labelBytes) = try readPossiblyCompressed(root, labelsName)
    let images = try parseIDX(imageBytes, path: imagesPath, magic: 0x0000_0803)
    let labelFile = try parseIDX(labelBytes, path: labelsPath, magic: 0x0000_0801)
    guard images.dimensions.dropFirst() == [28, 28] else {
      throw DatasetError.wrongDimensions(
        path: imagesPath, found: images.dimensions, expected: [images.dimensions[0], 28, 28])
    }
    guard images.dimensions[0] == labelFile.dimensions[0] else {
      throw DatasetError.countMismatch(
        imagesPath: imagesPath, images: images.dimensions[0], labelsPath: labelsPath,
        labels: labelFile.dimensions[0])
    }
    let labels = try labelFile.body.enumerated().map { index, byte in
      try checkedLabel(Int(byte), index: index, classCount: 10, path: labelsPath)
    }
    return ImageDataset(
      pixels: Array(images.body), labels: labels, channels: 1, height: 28, width: 28,
      classCount: 10, normalization: normalization)
  }

  // MARK: Formats

  private static let cifar10Binary = "CIFAR-10 binary"
  private static let cifar100Binary = "CIFAR-100 binary"
  private static let idxFormat = "MNIST-style IDX"

  /// Names whose presence identifies a format, for telling the user what a directory holds.
  private static let signatures: [(format: String, names: [String])] = [
    (cifar10Binary, ["data_batch_1.bin", "test_batch.bin", "cifar-10-batches-bin"]),
    ("CIFAR-10 python (pickle)", ["data_batch_1", "test_batch", "cifar-10-batches-py"]),
    (cifar100Binary, ["train.bin", "test.bin", "cifar-100-binary"]),
    ("CIFAR-100 python (pickle)", ["cifar-100-python", "meta"]),
    (
      idxFormat,
      ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
       "t10k-images-idx3-ubyte.gz"]
    ),
  ]

  /// The directory that holds the files: `directory` if it contains one of `marker`, else its
  /// `subdirectory` if that does. Otherwise reports a missing directory, a directory holding
  /// another known format, or the missing marker file.
  private static func resolve(
    _ directory: URL, marker: [String], subdirectory: String?, expected: String
  ) throws -> URL {
    guard exists(directory) else { throw DatasetError.missingFile(path: directory.path) }
    let candidates = [directory] + (subdirectory.map { [directory.appendingPathComponent($0)] } ?? [])
    for candidate in candidates
    where marker.contains(where: { exists(candidate.appendingPathComponent($0)) }) {
      return candidate
    }
    if let found = signatures.first(where: { signature in
      signature.format != expected
        && signature.names.contains { exists(directory.appendingPathComponent($0)) }
    }) {
      throw DatasetError.wrongFormat(path: directory.path, found: found.format, expected: expected)
    }
    throw DatasetError.missingFile(path: directory.appendingPathComponent(marker[0]).path)
  }

  private static func exists(_ url: URL) -> Bool {
    FileManager.default.fileExists(atPath: url.path)
  }

  // MARK: Files

  private static func read(_ url: URL) throws -> [UInt8] {
    guard exists(url) else { throw DatasetError.missingFile(path: url.path) }
    do {
      return [UInt8](try Data(contentsOf: url))
    } catch {
      throw DatasetError.unreadable(path: url.path, reason: error.localizedDescription)
    }
  }

  /// Reads `name` from `directory`, or `name.gz` decompressed if only that exists.
  private static func readPossiblyCompressed(
    _ directory: URL, _ name: String
  ) throws -> (path: String, bytes: [UInt8]) {
    let raw = directory.appendingPathComponent(name)
    if exists(raw) { return (raw.path, try read(raw)) }
    let compressed = directory.appendingPathComponent(name + ".gz")
    guard exists(compressed) else {
      throw DatasetError.missingFile(path: raw.path + "[.gz]")
    }
    return (compressed.path, try gunzip(read(compressed), path: compressed.path))
  }

  /// Appends the records of one CIFAR binary file: `labelBytes` label bytes (the last one is
  /// the label used) followed by 3072 pixel bytes each.
  private static func readCIFAR(
    _ url: URL, labelBytes: Int, records: Int, classCount: Int,
    pixels: inout [UInt8], labels: inout [Int]
  ) throws {
    let bytes = try read(url)
    let imageBytes = 3 * 32 * 32
    let recordBytes = labelBytes + imageBytes
    guard bytes.count == records * recordBytes else {
      if bytes.count % recordBytes == 0 {
        throw DatasetError.recordCount(
          path: url.path, records: bytes.count / recordBytes, expected: records)
      }
      throw DatasetError.wrongSize(
        path: url.path, bytes: bytes.count, expectedBytes: records * recordBytes)
    }
    pixels.reserveCapacity(pixels.count + records * imageBytes)
    labels.reserveCapacity(labels.count + records)
    for record in 0..<records {
      let start = record * recordBytes
      labels.append(
        try checkedLabel(
          Int(bytes[start + labelBytes - 1]), index: record, classCount: classCount, path: url.path))
      pixels.append(contentsOf: bytes[(start + labelBytes)..<(start + recordBytes)])
    }
  }

  private static func checkedLabel(_ label: Int, index: Int, classCount: Int, path: String) throws -> Int {
    guard label < classCount else {
      throw DatasetError.labelOutOfRange(path: path, index: index, label: label, classCount: classCount)
    }
    return label
  }

  /// Splits an IDX file into its dimensions and its body after checking the magic number
  /// (`0x0000_08` for unsigned bytes, then the number of dimensions) and the size.
  private static func parseIDX(
    _ bytes: [UInt8], path: String, magic expected: UInt32
  ) throws -> (dimensions: [Int], body: ArraySlice<UInt8>) {
    func word(_ offset: Int) -> UInt32 {
      bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
    guard bytes.count >= 4 else {
      throw DatasetError.wrongSize(path: path, bytes: bytes.count, expectedBytes: 4)
    }
    let found = word(0)
    guard found == expected else {
      throw DatasetError.badMagic(path: path, found: found, expected: expected)
    }
    let headerBytes = 4 + 4 * Int(expected & 0xFF)
    guard bytes.count >= headerBytes else {
      throw DatasetError.wrongSize(path: path, bytes: bytes.count, expectedBytes: headerBytes)
    }
    let dimensions = stride(from: 4, to: headerBytes, by: 4).map { Int(word($0)) }
    let total = headerBytes + dimensions.reduce(1, *)
    guard bytes.count == total else {
      throw DatasetError.wrongSize(path: path, bytes: bytes.count, expectedBytes: total)
    }
    return (dimensions, bytes[headerBytes...])
  }
}
