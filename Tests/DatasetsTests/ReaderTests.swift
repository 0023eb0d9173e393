import Datasets
import Foundation
import XCTest

final class ReaderTests: XCTestCase {
  /// A `cifar-10-batches-bin` directory inside a fresh parent, with `perFile` records per file.
  private func makeCIFAR10(perFile: Int) throws -> (parent: URL, directory: URL, train: [UInt8], test: [UInt8]) {
    let parent = try makeTemporaryDirectory(self)
    let directory = parent.appendingPathComponent("cifar-10-batches-bin")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var train: [UInt8] = []
    for batch in 1...5 {
      let records = ((batch - 1) * perFile)..<(batch * perFile)
      train += try writeCIFAR(
        directory.appendingPathComponent("data_batch_\(batch).bin"), records: records,
        labelBytes: { [UInt8($0 % 10)] })
    }
    let test = try writeCIFAR(
      directory.appendingPathComponent("test_batch.bin"), records: 100..<(100 + perFile),
      labelBytes: { [UInt8(9 - $0 % 10)] })
    return (parent, directory, train, test)
  }

  func testCIFAR10ReadsBatchesInOrderFromDirectoryOrParent() throws {
    let files = try makeCIFAR10(perFile: 3)
    for directory in [files.directory, files.parent] {
      let train = try DatasetReader.cifar10(.train, directory: directory, recordsPerFile: 3)
      XCTAssertEqual(train.count, 15)
      XCTAssertEqual(train.imageShape, [3, 32, 32])
      XCTAssertEqual(train.classCount, 10)
      XCTAssertEqual(train.labels, (0..<15).map { $0 % 10 })
      XCTAssertEqual(train.pixels, files.train)
      XCTAssertEqual(train.normalization, .cifar10)
      let test = try DatasetReader.cifar10(.test, directory: directory, recordsPerFile: 3)
      XCTAssertEqual(test.labels, (100..<103).map { 9 - $0 % 10 })
      XCTAssertEqual(test.pixels, files.test)
    }
  }

  func testCIFAR100UsesFineLabels() throws {
    let parent = try makeTemporaryDirectory(self)
    let directory = parent.appendingPathComponent("cifar-100-binary")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let pixels = try writeCIFAR(
      directory.appendingPathComponent("train.bin"), records: 0..<4,
      labelBytes: { [UInt8($0), UInt8(90 + $0)] })
    try writeCIFAR(directory.appendingPathComponent("test.bin"), records: 0..<2, labelBytes: { _ in [19, 99] })
    for root in [directory, parent] {
      let train = try DatasetReader.cifar100(.train, directory: root, records: 4)
      XCTAssertEqual(train.labels, [90, 91, 92, 93])
      XCTAssertEqual(train.pixels, pixels)
      XCTAssertEqual(train.classCount, 100)
      XCTAssertEqual(train.normalization, .cifar100)
      XCTAssertEqual(try DatasetReader.cifar100(.test, directory: root, records: 2).labels, [99, 99])
    }
  }

  func testIDXRawAndGzipReadTheSame() throws {
    let directory = try makeTemporaryDirectory(self)
    let trainPixels = try writeIDXPair(directory, prefix: "train", labels: [3, 1, 4, 1, 5])
    let testPixels = try writeIDXPair(directory, prefix: "t10k", labels: [9, 2])
    let raw = try DatasetReader.idx(.train, directory: directory, normalization: .mnist)
    XCTAssertEqual(raw.labels, [3, 1, 4, 1, 5])
    XCTAssertEqual(raw.pixels, trainPixels)
    XCTAssertEqual(raw.imageShape, [1, 28, 28])
    XCTAssertEqual(raw.normalization, .mnist)
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
      try gzip(directory.appendingPathComponent(name))
    }
    let compressed = try DatasetReader.idx(.train, directory: directory, normalization: .mnist)
    XCTAssertEqual(compressed.labels, raw.labels)
    XCTAssertEqual(compressed.pixels, raw.pixels)
    let test = try DatasetKind.fashionMNIST.load(.test, from: directory)
    XCTAssertEqual(test.labels, [9, 2])
    XCTAssertEqual(test.pixels, testPixels)
    XCTAssertEqual(test.normalization, .fashionMNIST)
  }

  // MARK: Bad input

  func testMissingDirectoryAndFiles() throws {
    let files = try makeCIFAR10(perFile: 2)
    let nowhere = files.parent.appendingPathComponent("nowhere")
    XCTAssertEqual(
      assertDatasetError(naming: nowhere.path) { try DatasetKind.cifar10.load(.train, from: nowhere) },
      .missingFile(path: nowhere.path))
    let third = files.directory.appendingPathComponent("data_batch_3.bin")
    try FileManager.default.removeItem(at: third)
    XCTAssertEqual(
      assertDatasetError(naming: third.path) {
        try DatasetReader.cifar10(.train, directory: files.parent, recordsPerFile: 2)
      }, .missingFile(path: third.path))
    let empty = try makeTemporaryDirectory(self)
    assertDatasetError(naming: empty.appendingPathComponent("t10k-images-idx3-ubyte").path) {
      try DatasetKind.mnist.load(.test, from: empty)
    }
    let labels = empty.appendingPathComponent("train-labels-idx1-ubyte")
    try writeIDXPair(empty, prefix: "train", labels: [1])
    try FileManager.default.removeItem(at: labels)
    assertDatasetError(naming: labels.path) { try DatasetKind.mnist.load(.train, from: empty) }
    XCTAssertEqual(
      assertDatasetError(naming: "cifar100") { try DatasetKind.cifar100.load(.train) },
      .noDirectory(kind: "cifar100"))
  }

  func testTruncatedAndShortCIFARFiles() throws {
    let files = try makeCIFAR10(perFile: 2)
    let second = files.directory.appendingPathComponent("data_batch_2.bin")
    let bytes = try Data(contentsOf: second)
    try bytes.prefix(bytes.count - 100).write(to: second)
    XCTAssertEqual(
      assertDatasetError(naming: second.path) {
        try DatasetReader.cifar10(.train, directory: files.directory, recordsPerFile: 2)
      }, .wrongSize(path: second.path, bytes: 2 * 3073 - 100, expectedBytes: 2 * 3073))
    // A whole number of records, but fewer than the format requires.
    try bytes.prefix(3073).write(to: second)
    XCTAssertEqual(
      assertDatasetError(naming: second.path) {
        try DatasetReader.cifar10(.train, directory: files.directory, recordsPerFile: 2)
      }, .recordCount(path: second.path, records: 1, expected: 2))
    // The real dataset's count is the default.
    let test = files.directory.appendingPathComponent("test_batch.bin")
    XCTAssertEqual(
      assertDatasetError(naming: test.path) { try DatasetKind.cifar10.load(.test, from: files.parent) },
      .recordCount(path: test.path, records: 2, expected: 10_000))
  }

  func testCIFARLabelOutOfRange() throws {
    let directory = try makeTemporaryDirectory(self)
    let file = directory.appendingPathComponent("test_batch.bin")
    try writeCIFAR(file, records: 0..<2, labelBytes: { [$0 == 1 ? 10 : 0] })
    XCTAssertEqual(
      assertDatasetError(naming: file.path) {
        try DatasetReader.cifar10(.test, directory: directory, recordsPerFile: 2)
      }, .labelOutOfRange(path: file.path, index: 1, label: 10, classCount: 10))
  }

  func testBadIDXFiles() throws {
    let directory = try makeTemporaryDirectory(self)
    try writeIDXPair(directory, prefix: "train", labels: [1, 2, 3])
    let images = directory.appendingPathComponent("train-images-idx3-ubyte")
    let labels = directory.appendingPathComponent("train-labels-idx1-ubyte")
    let load = { try DatasetReader.idx(.train, directory: directory, normalization: .mnist) }

    // Labels file where an images file belongs: wrong magic.
    let goodImages = try Data(contentsOf: images)
    try Data(contentsOf: labels).write(to: images)
    XCTAssertEqual(
      assertDatasetError(naming: images.path, load),
      .badMagic(path: images.path, found: 0x801, expected: 0x803))

    // Truncated body.
    try goodImages.prefix(goodImages.count - 1).write(to: images)
    XCTAssertEqual(
      assertDatasetError(naming: images.path, load),
      .wrongSize(path: images.path, bytes: goodImages.count - 1, expectedBytes: goodImages.count))

    // Truncated header.
    try goodImages.prefix(6).write(to: images)
    assertDatasetError(naming: images.path, load)

    // 28×27 images.
    try Data(idxBytes(dimensions: [3, 28, 27], body: [UInt8](repeating: 0, count: 3 * 28 * 27))).write(to: images)
    XCTAssertEqual(
      assertDatasetError(naming: images.path, load),
      .wrongDimensions(path: images.path, found: [3, 28, 27], expected: [3, 28, 28]))

    // Four images, three labels.
    try Data(idxBytes(dimensions: [4, 28, 28], body: [UInt8](repeating: 0, count: 4 * 784))).write(to: images)
    XCTAssertEqual(
      assertDatasetError(naming: labels.path, load),
      .countMismatch(imagesPath: images.path, images: 4, labelsPath: labels.path, labels: 3))
  }

  func testTruncatedAndCorruptGzip() throws {
    let directory = try makeTemporaryDirectory(self)
    try writeIDXPair(directory, prefix: "train", labels: [UInt8](repeating: 7, count: 20))
    let images = directory.appendingPathComponent("train-images-idx3-ubyte")
    try gzip(images)
    let compressed = directory.appendingPathComponent("train-images-idx3-ubyte.gz")
    let bytes = try Data(contentsOf: compressed)
    let load = { try DatasetReader.idx(.train, directory: directory, normalization: .mnist) }
    XCTAssertEqual(try load().count, 20)

    try bytes.prefix(bytes.count / 2).write(to: compressed)
    guard case .corruptGzip = assertDatasetError(naming: compressed.path, load) else {
      return XCTFail("truncated gzip not reported as such")
    }
    var damaged = [UInt8](bytes)
    for i in 20..<40 { damaged[i] ^= 0x5A }
    try Data(damaged).write(to: compressed)
    guard case .corruptGzip = assertDatasetError(naming: compressed.path, load) else {
      return XCTFail("corrupt gzip not reported as such")
    }
    // A valid deflate stream with a wrong CRC in the trailer.
    damaged = [UInt8](bytes)
    damaged[damaged.count - 6] ^= 1
    try Data(damaged).write(to: compressed)
    guard case .corruptGzip = assertDatasetError(naming: compressed.path, load) else {
      return XCTFail("CRC mismatch not reported")
    }
  }

  func testDirectoryOfAnotherFormat() throws {
    let cifar = try makeCIFAR10(perFile: 1)
    for directory in [cifar.directory, cifar.parent] {
      XCTAssertEqual(
        assertDatasetError(naming: directory.path) { try DatasetKind.mnist.load(.train, from: directory) },
        .wrongFormat(path: directory.path, found: "CIFAR-10 binary", expected: "MNIST-style IDX"))
    }
    let idx = try makeTemporaryDirectory(self)
    try writeIDXPair(idx, prefix: "train", labels: [0])
    XCTAssertEqual(
      assertDatasetError(naming: idx.path) { try DatasetKind.cifar10.load(.train, from: idx) },
      .wrongFormat(path: idx.path, found: "MNIST-style IDX", expected: "CIFAR-10 binary"))
    assertDatasetError(naming: cifar.parent.path) { try DatasetKind.cifar100.load(.train, from: cifar.parent) }
    let pickles = try makeTemporaryDirectory(self)
    try FileManager.default.createDirectory(
      at: pickles.appendingPathComponent("cifar-10-batches-py"), withIntermediateDirectories: true)
    XCTAssertEqual(
      assertDatasetError(naming: pickles.path) { try DatasetKind.cifar10.load(.train, from: pickles) },
      .wrongFormat(path: pickles.path, found: "CIFAR-10 python (pickle)", expected: "CIFAR-10 binary"))
  }

  /// IDX dimensions up to 2³²−1: the size is computed without overflow and checked against the
  /// file before anything is allocated; a product that cannot be a byte count is its own error.
  func testHugeIDXDimensionsAreRejectedWithoutTrapping() throws {
    let directory = try makeTemporaryDirectory(self)
    try writeIDXPair(directory, prefix: "train", labels: [1, 2])
    let images = directory.appendingPathComponent("train-images-idx3-ubyte")
    let labels = directory.appendingPathComponent("train-labels-idx1-ubyte")
    let load = { try DatasetReader.idx(.train, directory: directory, normalization: .mnist) }
    let most = Int(UInt32.max)

    try Data(idxBytes(dimensions: [most, most, most], body: [])).write(to: images)
    XCTAssertEqual(
      assertDatasetError(naming: images.path, load),
      .wrongDimensions(path: images.path, found: [most, most, most], expected: [most, 28, 28]))
    try Data(idxBytes(dimensions: [most, 28, 28], body: [1, 2, 3])).write(to: images)
    XCTAssertEqual(
      assertDatasetError(naming: images.path, load),
      .countMismatch(imagesPath: images.path, images: most, labelsPath: labels.path, labels: 2))
    // 2³²−1 labels with their images need 6.8 TB: more than the machine has.
    try writeIDXPair(directory, prefix: "train", labels: [1, 2])
    try Data(idxBytes(dimensions: [most], body: [0])).write(to: labels)
    let memory = Int(ProcessInfo.processInfo.physicalMemory)
    XCTAssertEqual(
      assertDatasetError(naming: labels.path, load),
      .exceedsMemory(path: labels.path, items: most, bytes: most * 1576, memory: memory))
    try Data(idxBytes(dimensions: [3], body: [0])).write(to: labels)
    XCTAssertEqual(
      assertDatasetError(naming: labels.path, load), .wrongSize(path: labels.path, bytes: 9, expectedBytes: 11))

    // Without item dimensions to check, the product itself overflows.
    let bytes = idxBytes(dimensions: [most, most, most], body: [])
    let error = assertDatasetError(naming: "x.idx") {
      try DatasetReader.parseIDX(bytes, path: "x.idx", magic: DatasetReader.idxImagesMagic)
    }
    XCTAssertEqual(error, .sizeOverflow(path: "x.idx", dimensions: [most, most, most]))
    XCTAssertEqual(
      error?.description, "x.idx: IDX header declares 4294967295×4294967295×4294967295 bytes, more than any file can hold")
    let parsed = try DatasetReader.parseIDX(
      idxBytes(dimensions: [2, 3], body: [1, 2, 3, 4, 5, 6]), path: "y.idx", magic: 0x802)
    XCTAssertEqual(parsed.dimensions, [2, 3])
    XCTAssertEqual(Array(parsed.body), [1, 2, 3, 4, 5, 6])
  }

  /// A small gzip that inflates hugely stops as soon as it passes what its IDX header promises
  /// (here one 28×28 image: 800 bytes), instead of inflating 64 MiB first.
  func testGzipBombStopsAtTheSizeItsIDXHeaderPromises() throws {
    let directory = try makeTemporaryDirectory(self)
    try writeIDXPair(directory, prefix: "train", labels: [4])
    let images = directory.appendingPathComponent("train-images-idx3-ubyte")
    try Data(idxBytes(dimensions: [1, 28, 28], body: []) + [UInt8](repeating: 0, count: 64 << 20)).write(to: images)
    try gzip(images)
    let compressed = directory.appendingPathComponent("train-images-idx3-ubyte.gz")
    let bomb = try [UInt8](Data(contentsOf: compressed))
    XCTAssertLessThan(bomb.count, 200_000, "64 MiB of zeros compress to about 64 KB")
    let error = assertDatasetError(naming: compressed.path) {
      try DatasetReader.idx(.train, directory: directory, normalization: .mnist)
    }
    XCTAssertEqual(error, .inflatesPastLimit(path: compressed.path, limit: 800, promise: "its IDX header promises"))
    XCTAssertEqual(
      error?.description, "\(compressed.path): gzip data inflates past the 800 bytes its IDX header promises")

    // A fixed bound, through the byte-level entry point.
    XCTAssertEqual(
      assertDatasetError(naming: "bomb.gz") { try Gzip.decompress(bomb, path: "bomb.gz", limit: .bytes(1000)) },
      .inflatesPastLimit(path: "bomb.gz", limit: 1000, promise: "allowed"))
    // The header must promise as many images as there are labels: checked before inflating on.
    try Data(idxBytes(dimensions: [9, 28, 28], body: []) + [UInt8](repeating: 0, count: 1 << 20)).write(to: images)
    try FileManager.default.removeItem(at: compressed)
    try gzip(images)
    XCTAssertEqual(
      assertDatasetError(naming: compressed.path) {
        try DatasetReader.idx(.train, directory: directory, normalization: .mnist)
      },
      .countMismatch(
        imagesPath: compressed.path, images: 9,
        labelsPath: directory.appendingPathComponent("train-labels-idx1-ubyte").path, labels: 1))
  }

  /// Gzip members are concatenated; an unbounded limit does not overflow; an empty input is
  /// truncated.
  func testGzipMembersAndLimits() throws {
    let directory = try makeTemporaryDirectory(self)
    var members: [UInt8] = []
    for (index, text) in ["first member ", "second"].enumerated() {
      let file = directory.appendingPathComponent("\(index)")
      try Data(text.utf8).write(to: file)
      try gzip(file)
      members += try [UInt8](Data(contentsOf: directory.appendingPathComponent("\(index).gz")))
    }
    let both = try Gzip.decompress(members, path: "m.gz", limit: .bytes(.max))
    XCTAssertEqual(String(decoding: both, as: UTF8.self), "first member second")
    XCTAssertEqual(try Gzip.decompress(members, path: "m.gz", limit: .bytes(19)), both)
    XCTAssertEqual(
      assertDatasetError(naming: "m.gz") { try Gzip.decompress(members, path: "m.gz", limit: .bytes(18)) },
      .inflatesPastLimit(path: "m.gz", limit: 18, promise: "allowed"), "one byte over the limit")
    guard case .corruptGzip = assertDatasetError(naming: "e.gz", { try Gzip.decompress([], path: "e.gz", limit: .bytes(1)) }) else {
      return XCTFail("empty input not reported as truncated")
    }
  }

  /// CIFAR records parse from memory without trapping on any length or label byte; a file of
  /// the wrong size is rejected by its size on disk.
  func testCIFARBytesNeverTrap() throws {
    for length in [0, 1, 3072, 3073, 3074, 6146, 6147] {
      for format in [CIFARFormat.cifar10, .cifar100] {
        let bytes = [UInt8](repeating: 3, count: length)
        let whole = length.isMultiple(of: format.recordBytes)
        if whole {
          let records = try DatasetReader.parseCIFAR(bytes, path: "c.bin", format: format)
          XCTAssertEqual(records.labels, [Int](repeating: 3, count: length / format.recordBytes))
          XCTAssertEqual(records.pixels.count, records.labels.count * 3072)
        } else {
          assertDatasetError(naming: "c.bin") { try DatasetReader.parseCIFAR(bytes, path: "c.bin", format: format) }
        }
      }
    }
    XCTAssertEqual(
      assertDatasetError(naming: "c.bin") {
        try DatasetReader.parseCIFAR([UInt8](repeating: 255, count: 3074), path: "c.bin", format: .cifar100)
      }, .labelOutOfRange(path: "c.bin", index: 0, label: 255, classCount: 100))
    XCTAssertEqual(
      assertDatasetError(naming: "c.bin") {
        try DatasetReader.parseCIFAR([UInt8](repeating: 0, count: 3073), path: "c.bin", format: .cifar10, records: .max)
      }, .recordCount(path: "c.bin", records: 1, expected: .max))
    XCTAssertEqual(
      assertDatasetError(naming: "c.bin") {
        try DatasetReader.parseCIFAR([UInt8](repeating: 0, count: 3000), path: "c.bin", format: .cifar10, records: .max)
      }, .wrongSize(path: "c.bin", bytes: 3000, expectedBytes: .max))
  }

  /// A file far larger than its format allows (64 GiB, sparse) is rejected from its size on
  /// disk and its header, before it is read.
  func testHugeFilesAreRejectedBeforeTheyAreRead() throws {
    let huge = 64 << 30
    let files = try makeCIFAR10(perFile: 1)
    let first = files.directory.appendingPathComponent("data_batch_1.bin")
    try FileHandle(forWritingTo: first).truncate(atOffset: UInt64(huge))
    XCTAssertEqual(
      assertDatasetError(naming: first.path) {
        try DatasetReader.cifar10(.train, directory: files.parent, recordsPerFile: 1)
      }, .wrongSize(path: first.path, bytes: huge, expectedBytes: 3073))

    let directory = try makeTemporaryDirectory(self)
    try writeIDXPair(directory, prefix: "train", labels: [1])
    let images = directory.appendingPathComponent("train-images-idx3-ubyte")
    try FileHandle(forWritingTo: images).truncate(atOffset: UInt64(huge))
    XCTAssertEqual(
      assertDatasetError(naming: images.path) {
        try DatasetReader.idx(.train, directory: directory, normalization: .mnist)
      }, .wrongSize(path: images.path, bytes: huge, expectedBytes: 800))
  }

  /// A read that fails gives the operating system's reason, not Foundation's wrapper.
  func testUnreadableFileGivesTheSystemReason() throws {
    #if os(Linux)
      // Reading /proc/self/mem from offset 0 fails with EIO.
      let memory = URL(fileURLWithPath: "/proc/self/mem")
      XCTAssertEqual(
        assertDatasetError(naming: memory.path) { try ImageDecoder.decode(contentsOf: memory) },
        .unreadable(path: memory.path, reason: "input/output error"))
    #endif
  }

  /// A file that is a directory, and a data directory that is a file, are said plainly.
  func testDirectoriesAndFilesInTheWrongPlace() throws {
    let files = try makeCIFAR10(perFile: 1)
    let third = files.directory.appendingPathComponent("data_batch_3.bin")
    try FileManager.default.removeItem(at: third)
    try FileManager.default.createDirectory(at: third, withIntermediateDirectories: true)
    let error = assertDatasetError(naming: third.path) {
      try DatasetReader.cifar10(.train, directory: files.parent, recordsPerFile: 1)
    }
    XCTAssertEqual(error, .unreadable(path: third.path, reason: "is a directory, not a file"))
    XCTAssertEqual(error?.description, "\(third.path): is a directory, not a file")
    // A pipe is refused unread (reading it would block), before its header is looked at.
    let directory = try makeTemporaryDirectory(self)
    try writeIDXPair(directory, prefix: "train", labels: [1])
    let images = directory.appendingPathComponent("train-images-idx3-ubyte")
    try FileManager.default.removeItem(at: images)
    XCTAssertEqual(mkfifo(images.path, 0o600), 0)
    XCTAssertEqual(
      assertDatasetError(naming: images.path) { try DatasetKind.mnist.load(.train, from: directory) },
      .unreadable(path: images.path, reason: "is not a regular file (a device, socket or pipe)"))
    let notDirectory = files.directory.appendingPathComponent("test_batch.bin")
    XCTAssertEqual(
      assertDatasetError(naming: notDirectory.path) { try DatasetKind.mnist.load(.train, from: notDirectory) },
      .notADirectory(path: notDirectory.path))
  }

  // MARK: Shipped and installed data

  func testDatasetKindParsesCommandLineNames() {
    XCTAssertEqual(
      ["cifar10", "cifar100", "mnist", "fashion-mnist", "demo"].compactMap(DatasetKind.init(rawValue:)),
      [.cifar10, .cifar100, .mnist, .fashionMNIST, .demo])
    XCTAssertNil(DatasetKind(rawValue: "imagenet"))
    XCTAssertEqual(DatasetKind.fashionMNIST.defaultDirectory?.path, "/usr/share/datasets/fashion-mnist")
    XCTAssertNil(DatasetKind.cifar10.defaultDirectory)
  }

  func testDemoDataLoads() throws {
    let train = try DatasetKind.demo.load(.train)
    let test = try DatasetKind.demo.load(.test)
    XCTAssertEqual(train.count, 4000)
    XCTAssertEqual(test.count, 1000)
    for set in [train, test] {
      XCTAssertEqual(set.imageShape, [1, 28, 28])
      XCTAssertEqual(set.classCount, 10)
      XCTAssertEqual(Set(set.labels), Set(0..<10))
      XCTAssertEqual(set.normalization, .fashionMNIST)
    }
    // Real images: the mean pixel is near the Fashion-MNIST mean (0.286).
    let mean = Double(train.pixels.reduce(0) { $0 + Int($1) }) / Double(train.pixels.count) / 255
    XCTAssertEqual(mean, 0.286, accuracy: 0.02)
  }

  /// `.ci/run` installs Debian's dataset-fashion-mnist; without it this test fails (it never skips).
  func testDebianFashionMNISTLoads() throws {
    let directory = try XCTUnwrap(DatasetKind.fashionMNIST.defaultDirectory)
    guard FileManager.default.fileExists(atPath: directory.path) else {
      return XCTFail("dataset-fashion-mnist is not installed at \(directory.path): apt-get install dataset-fashion-mnist (as .ci/run does)")
    }
    let train = try DatasetKind.fashionMNIST.load(.train)
    let test = try DatasetKind.fashionMNIST.load(.test)
    XCTAssertEqual(train.count, 60_000)
    XCTAssertEqual(test.count, 10_000)
    XCTAssertEqual(train.imageShape, [1, 28, 28])
    XCTAssertEqual(Set(train.labels), Set(0..<10))
    // The demo data are the first images of the installed files.
    let demo = try DatasetKind.demo.load(.train)
    XCTAssertEqual(Array(train.labels.prefix(demo.count)), demo.labels)
    XCTAssertEqual(Array(train.pixels.prefix(demo.pixels.count)), demo.pixels)
  }
}
