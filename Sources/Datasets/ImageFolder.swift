import Diagnostics
import Foundation
import TensorCore

/// A folder of labelled images in the ImageFolder layout `root/<class>/<image>` (SPEC §8.3):
/// classes are the sorted sub-folder names (label = position), images the sorted file names
/// ending in `.jpg`, `.jpeg` or `.png` (any case) directly inside each class folder; other
/// files are ignored, hidden entries too.
///
/// Only paths and labels are held in memory (about 100 bytes per image); every image is
/// decoded (`ImageDecoder`) and transformed (`transform`) when its batch is assembled, on the
/// `BatchLoader`'s background thread, so ImageNet-sized folders fit in a few hundred MB.
public struct ImageFolder: LabelledImages {
  /// Class names, sorted; label `i` is `classNames[i]`.
  public let classNames: [String]
  /// Path of each image, class by class, sorted by name within a class.
  public let paths: [String]
  /// Class of each image.
  public let labels: [Int]
  /// How images are rendered (training or evaluation transform, output size).
  public var transform: ImageTransform

  /// File name extensions read (lower-cased).
  public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]
  /// Image extensions recognised but not decoded: they are an error rather than skipped.
  static let unsupportedExtensions: Set<String> = ["gif", "bmp", "webp", "tif", "tiff", "ppm", "pgm", "heic"]

  /// Lists the images of `directory`.
  /// - Throws: `DatasetError` naming the folder or file: missing folder, no class folders or only
  ///   one (classification needs at least 2 classes), a class folder without images, an image in
  ///   an unsupported format.
  public init(directory: URL, transform: ImageTransform) throws {
    let manager = FileManager.default
    var isDirectory: ObjCBool = false
    guard manager.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
      throw DatasetError.missingFile(path: directory.path)
    }
    guard isDirectory.boolValue else {
      throw DatasetError.badImageFolder(path: directory.path, reason: "not a directory")
    }
    let classNames = try Self.entries(of: directory).filter { name in
      var isDirectory: ObjCBool = false
      return manager.fileExists(atPath: directory.appendingPathComponent(name).path, isDirectory: &isDirectory)
        && isDirectory.boolValue
    }
    guard !classNames.isEmpty else {
      throw DatasetError.badImageFolder(path: directory.path, reason: "no class folders (expected <class>/<image> inside)")
    }
    guard classNames.count >= 2 else {
      throw DatasetError.badImageFolder(
        path: directory.path,
        reason: "holds a single class folder (\(classNames[0])): classification needs at least 2 classes")
    }
    var paths: [String] = []
    var labels: [Int] = []
    for (label, name) in classNames.enumerated() {
      let folder = directory.appendingPathComponent(name)
      var found = 0
      for file in try Self.entries(of: folder) {
        let fileExtension = (file as NSString).pathExtension.lowercased()
        let path = folder.appendingPathComponent(file).path
        if Self.unsupportedExtensions.contains(fileExtension) {
          throw DatasetError.corruptImage(path: path, reason: "unsupported format .\(fileExtension): only JPEG and PNG are read")
        }
        guard Self.imageExtensions.contains(fileExtension) else { continue }
        paths.append(path)
        labels.append(label)
        found += 1
      }
      guard found > 0 else {
        throw DatasetError.badImageFolder(path: folder.path, reason: "class folder holds no .jpg, .jpeg or .png images")
      }
    }
    self.init(classNames: classNames, paths: paths, labels: labels, transform: transform)
  }

  private init(classNames: [String], paths: [String], labels: [Int], transform: ImageTransform) {
    self.classNames = classNames
    self.paths = paths
    self.labels = labels
    self.transform = transform
  }

  /// The non-hidden entries of a directory, sorted by name (code-point order, as Python's
  /// `sorted`).
  private static func entries(of directory: URL) throws -> [String] {
    do {
      return try FileManager.default.contentsOfDirectory(atPath: directory.path)
        .filter { !$0.hasPrefix(".") }
        .sorted { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }
    } catch {
      let reason = FileManager.default.isReadableFile(atPath: directory.path) ? oneLine(error.localizedDescription) : "permission denied"
      throw DatasetError.unreadable(path: directory.path, reason: "cannot be listed (\(reason))")
    }
  }

  /// Reads part `part` of an image-folder data set in `directory`: the training part is
  /// `directory/train` if that exists, else `directory` itself; the test part is
  /// `directory/val`, else `directory/test`.
  public static func load(_ part: DatasetPart, from directory: URL, transform: ImageTransform) throws -> ImageFolder {
    let candidates = part == .train ? ["train"] : ["val", "test"]
    for name in candidates {
      let url = directory.appendingPathComponent(name)
      if FileManager.default.fileExists(atPath: url.path) { return try ImageFolder(directory: url, transform: transform) }
    }
    guard part == .train else {
      throw DatasetError.missingFile(path: directory.appendingPathComponent("val").path + " (or test)")
    }
    return try ImageFolder(directory: directory, transform: transform)
  }

  /// The images `indices` (in that order), same classes and transform.
  public func subset(_ indices: [Int]) -> ImageFolder {
    ImageFolder(classNames: classNames, paths: indices.map { paths[$0] }, labels: indices.map { labels[$0] }, transform: transform)
  }

  /// The same images with another transform.
  public func with(_ transform: ImageTransform) -> ImageFolder {
    var copy = self
    copy.transform = transform
    return copy
  }

  public var count: Int { paths.count }
  public var classCount: Int { classNames.count }
  public var imageShape: [Int] { [3, transform.size, transform.size] }
  public func label(_ index: Int) -> Int { labels[index] }

  /// Decodes image `index` and applies `transform`.
  public func render(_ index: Int, using generator: inout SeededGenerator, into output: UnsafeMutablePointer<Float>) throws {
    transform.render(try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: paths[index])), using: &generator, into: output)
  }
}

/// The per-class split of the PC-DARTS ImageNet search (SPEC §5.5): from each class,
/// `⌊weightFraction·n⌋` images train the weights and `⌊architectureFraction·n⌋` the architecture,
/// disjoint, drawn at random (seeded), each at least 1 when the class has at least 2 images (a
/// class of one image gives it to the weights). Indices are in increasing order within each
/// part.
public struct ClassSplit: Hashable, Sendable {
  /// Indices of the images that train the weights.
  public let weights: [Int]
  /// Indices of the images that train the architecture.
  public let architecture: [Int]

  /// - Parameters:
  ///   - labels: the class of each image.
  ///   - weightFraction, architectureFraction: fractions of each class, each in (0, 1], summing
  ///     to at most 1 (PC-DARTS: 0.1 and 0.025).
  ///   - seed: class `c` draws from a generator keyed by `(seed, c)` only.
  public init(labels: [Int], classCount: Int, weightFraction: Double, architectureFraction: Double, seed: UInt64) {
    precondition(weightFraction > 0 && architectureFraction > 0 && weightFraction + architectureFraction <= 1,
                 "fractions \(weightFraction), \(architectureFraction)")
    var members = Array(repeating: [Int](), count: classCount)
    for (index, label) in labels.enumerated() { members[label].append(index) }
    var weights: [Int] = []
    var architecture: [Int] = []
    for (label, images) in members.enumerated() where !images.isEmpty {
      let n = images.count
      var a = n >= 2 ? max(1, Int(architectureFraction * Double(n))) : 0
      var w = max(1, Int(weightFraction * Double(n)))
      if w + a > n { (w, a) = (n - a, a) }
      var generator = derivedGenerator(seed, UInt64(label), 0x5350_4C49_54)  // "SPLIT"
      let chosen = shuffledPrefix(count: n, length: w + a, using: &generator).map { images[$0] }
      weights += chosen.prefix(w)
      architecture += chosen.suffix(a)
    }
    self.weights = weights.sorted()
    self.architecture = architecture.sorted()
  }
}
