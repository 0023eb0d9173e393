import Foundation

/// The datasets the search and evaluation commands can read. The raw value is the command-line
/// spelling (`cifar10`, `cifar100`, `mnist`, `fashion-mnist`, `demo`, `image-folder`), so
/// `DatasetKind(rawValue: argument)` parses a `--dataset` option.
public enum DatasetKind: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
  /// CIFAR-10 binary version (SPEC §8.1).
  case cifar10
  /// CIFAR-100 binary version, fine labels (SPEC §8.1).
  case cifar100
  /// MNIST, IDX files (raw or gzip).
  case mnist
  /// Fashion-MNIST, IDX files (raw or gzip).
  case fashionMNIST = "fashion-mnist"
  /// The Fashion-MNIST subset shipped in this package (4,000 training, 1,000 test images);
  /// needs no files on disk.
  case demo
  /// A folder of JPEG/PNG images, one sub-folder per class (`ImageFolder`); decoded per batch,
  /// never loaded into memory as a whole.
  case imageFolder = "image-folder"

  public var description: String { rawValue }

  /// Where the files are looked for when no directory is given, or nil if there is no
  /// standard location. Fashion-MNIST: `/usr/share/datasets/fashion-mnist`, where Debian's
  /// `dataset-fashion-mnist` package installs it; demo: the package's resource bundle.
  public var defaultDirectory: URL? {
    switch self {
    case .fashionMNIST: URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist", isDirectory: true)
    case .demo: Bundle.module.url(forResource: "Demo", withExtension: nil)
    case .cifar10, .cifar100, .mnist, .imageFolder: nil
    }
  }

  /// The normalisation constants the readers attach (SPEC §8.2).
  public var normalization: Normalization {
    switch self {
    case .cifar10: .cifar10
    case .cifar100: .cifar100
    case .mnist: .mnist
    case .fashionMNIST, .demo: .fashionMNIST
    case .imageFolder: .imageNet
    }
  }

  /// Reads the training or test set into memory (not for `.imageFolder`: use `ImageFolder.load`).
  /// - Parameter directory: where the files are (see the `DatasetReader` functions for the
  ///   accepted layouts); nil uses `defaultDirectory`.
  /// - Throws: `DatasetError` naming the file at fault, or `.noDirectory` if `directory` is nil
  ///   and there is no default.
  public func load(_ part: DatasetPart, from directory: URL? = nil) throws -> ImageDataset {
    guard let directory = directory ?? defaultDirectory else {
      throw DatasetError.noDirectory(kind: rawValue)
    }
    switch self {
    case .cifar10: return try DatasetReader.cifar10(part, directory: directory)
    case .cifar100: return try DatasetReader.cifar100(part, directory: directory)
    case .mnist, .fashionMNIST, .demo:
      return try DatasetReader.idx(part, directory: directory, normalization: normalization)
    case .imageFolder:
      throw DatasetError.badImageFolder(
        path: directory.path, reason: "an image folder is decoded per batch (ImageFolder.load), not loaded into memory")
    }
  }
}
