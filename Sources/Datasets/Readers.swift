import Diagnostics
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
      let records = try readCIFAR(root.appendingPathComponent(name), format: .cifar10, records: recordsPerFile)
      pixels += records.pixels
      labels += records.labels
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
    let file = try readCIFAR(
      root.appendingPathComponent(name), format: .cifar100,
      records: records ?? (part == .train ? 50_000 : 10_000))
    return ImageDataset(
      pixels: file.pixels, labels: file.labels, channels: 3, height: 32, width: 32, classCount: 100,
      normalization: .cifar100)
  }

  /// Reads an MNIST-style IDX pair (MNIST, Fashion-MNIST): `train-images-idx3-ubyte` and
  /// `train-labels-idx1-ubyte`, or the `t10k-` pair for the test set. Each file may be raw or
  /// gzip-compressed (`.gz` appended); the raw file is preferred when both exist. The labels are
  /// read first: their count must fit in this machine's memory (with the images), a compressed
  /// images file is inflated no further than its header promises, and its header must promise
  /// one 28×28 image per label.
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
    let labelFile = try readIDX(root, labelsName, magic: idxLabelsMagic, itemDimensions: []) { dimensions, path in
      // The images are read in full, then copied into the data set; the labels become Ints.
      let needed = dimensions[0].multipliedReportingOverflow(by: 2 * 28 * 28 + 8)
      let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
      guard !needed.overflow, needed.partialValue <= memory else {
        throw DatasetError.exceedsMemory(
          path: path, items: dimensions[0], bytes: needed.overflow ? .max : needed.partialValue, memory: memory)
      }
    }
    let labelCount = labelFile.array.dimensions[0]
    let images = try readIDX(root, imagesName, magic: idxImagesMagic, itemDimensions: [28, 28]) { dimensions, path in
      guard dimensions[0] == labelCount else {
        throw DatasetError.countMismatch(
          imagesPath: path, images: dimensions[0], labelsPath: labelFile.path, labels: labelCount)
      }
    }
    let labels = try labelFile.array.body.enumerated().map { index, byte in
      try checkedLabel(Int(byte), index: index, classCount: 10, path: labelFile.path)
    }
    return ImageDataset(
      pixels: Array(images.array.body), labels: labels, channels: 1, height: 28, width: 28,
      classCount: 10, normalization: normalization)
  }

  /// The IDX magic number of an MNIST images file (unsigned bytes, 3 dimensions).
  public static let idxImagesMagic: UInt32 = 0x0000_0803
  /// The IDX magic number of an MNIST labels file (unsigned bytes, 1 dimension).
  public static let idxLabelsMagic: UInt32 = 0x0000_0801

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
    guard isDirectory(directory) else { throw DatasetError.notADirectory(path: directory.path) }
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

  private static func isDirectory(_ url: URL) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
  }

  // MARK: Files

  /// The bytes of the file `url` (a regular file: the shared reader refuses directories, pipes
  /// and devices unread). When `check` is given, the size on disk must pass it first, so that a
  /// huge file is rejected before it is read.
  private static func read(_ url: URL, checkingSize check: ((Int) throws -> Void)? = nil) throws -> [UInt8] {
    guard exists(url) else { throw DatasetError.missingFile(path: url.path) }
    let values = try? url.resolvingSymlinksInPath().resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey])
    if let check, values?.isRegularFile == true, let size = values?.fileSize {
      try check(size)
    }
    do {
      return [UInt8](try readFile(url))
    } catch {
      throw DatasetError(error)
    }
  }

  /// The first `count` bytes of the regular file `url` (fewer if it is shorter).
  private static func readPrefix(_ url: URL, count: Int) throws -> ArraySlice<UInt8> {
    do {
      let handle = try FileHandle(forReadingFrom: url)
      defer { try? handle.close() }
      return ArraySlice(try handle.read(upToCount: count) ?? Data())
    } catch {
      throw DatasetError.unreadable(path: url.path, reason: fileReadProblem(error, path: url.path))
    }
  }

  /// Reads IDX file `name` from `directory`, or `name.gz` inflated no further than its header
  /// promises if only that exists, and parses it (`parseIDX`). `validate` checks the
  /// dimensions against the rest of the dataset, before a raw file is read or a compressed one
  /// inflated.
  private static func readIDX(
    _ directory: URL, _ name: String, magic: UInt32, itemDimensions: [Int],
    validate: @escaping @Sendable (_ dimensions: [Int], _ path: String) throws -> Void = { _, _ in }
  ) throws -> (path: String, array: IDXArray) {
    let raw = directory.appendingPathComponent(name)
    let compressed = directory.appendingPathComponent(name + ".gz")
    let path: String
    let bytes: [UInt8]
    if exists(raw) {
      // The header and the size on disk must agree before the whole file is read.
      path = raw.path
      bytes = try read(raw) { size in
        let prefix = try readPrefix(raw, count: IDXHeader.byteCount(magic: magic))
        let header = try IDXHeader(prefix, path: raw.path, magic: magic, itemDimensions: itemDimensions)
        try validate(header.dimensions, raw.path)
        guard size == header.fileBytes else {
          throw DatasetError.wrongSize(path: raw.path, bytes: size, expectedBytes: header.fileBytes)
        }
      }
    } else if exists(compressed) {
      let gzPath = compressed.path
      let limit = Gzip.Limit(headerBytes: IDXHeader.byteCount(magic: magic), promise: "its IDX header promises") {
        let header = try IDXHeader($0, path: gzPath, magic: magic, itemDimensions: itemDimensions)
        try validate(header.dimensions, gzPath)
        return header.fileBytes
      }
      (path, bytes) = (gzPath, try Gzip.decompress(read(compressed), path: gzPath, limit: limit))
    } else {
      throw DatasetError.missingFile(path: raw.path + "[.gz]")
    }
    let array = try parseIDX(bytes, path: path, magic: magic, itemDimensions: itemDimensions)
    try validate(array.dimensions, path)
    return (path, array)
  }

  /// Reads and parses one CIFAR binary file (`parseCIFAR`), rejecting a file of the wrong size
  /// before reading it.
  private static func readCIFAR(_ url: URL, format: CIFARFormat, records: Int) throws -> CIFARRecords {
    let bytes = try read(url) { try checkCIFARSize($0, path: url.path, format: format, records: records) }
    return try parseCIFAR(bytes, path: url.path, format: format, records: records)
  }

  static func checkedLabel(_ label: Int, index: Int, classCount: Int, path: String) throws -> Int {
    guard label < classCount else {
      throw DatasetError.labelOutOfRange(path: path, index: index, label: label, classCount: classCount)
    }
    return label
  }
}
