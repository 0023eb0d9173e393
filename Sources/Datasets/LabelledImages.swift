import TensorCore

/// Labelled images a `BatchSampler` draws batches from, each rendered to floats by its own
/// transform: the in-memory sets through `AugmentedDataset`, image folders through
/// `ImageFolder` (decoded per batch on the loader's thread).
public protocol LabelledImages: Sendable {
  /// Number of images.
  var count: Int { get }
  /// Number of classes; labels are in `0..<classCount`.
  var classCount: Int { get }
  /// `[channels, height, width]` of a rendered image.
  var imageShape: [Int] { get }
  /// The class of image `index`.
  func label(_ index: Int) -> Int
  /// Writes image `index`, transformed, to `output` (`imageShape` floats, planar), drawing its
  /// random choices from `generator`.
  /// - Throws: `DatasetError` naming the file if the image cannot be read.
  func render(_ index: Int, using generator: inout SeededGenerator, into output: UnsafeMutablePointer<Float>) throws
}

/// An in-memory `ImageDataset` with the `Augmentation` its batches get.
public struct AugmentedDataset: LabelledImages {
  public let dataset: ImageDataset
  public let augmentation: Augmentation
  /// `tables[c][p]`: the normalised value of pixel value `p` in channel `c`.
  private let tables: [[Float]]

  public init(_ dataset: ImageDataset, augmentation: Augmentation) {
    self.dataset = dataset
    self.augmentation = augmentation
    tables = (0..<dataset.channels).map { dataset.normalization.lookupTable(channel: $0) }
  }

  public var count: Int { dataset.count }
  public var classCount: Int { dataset.classCount }
  public var imageShape: [Int] { dataset.imageShape }
  public func label(_ index: Int) -> Int { dataset.labels[index] }

  /// Draws the augmentation of one image (`Augmentation.draw`) and applies it.
  public func render(_ index: Int, using generator: inout SeededGenerator, into output: UnsafeMutablePointer<Float>) {
    let draw = augmentation.draw(height: dataset.height, width: dataset.width, using: &generator)
    dataset.pixels.withUnsafeBufferPointer { pixels in
      augmentation.render(draw, image: index, pixels: pixels, shape: dataset.imageShape, tables: tables, into: output)
    }
  }
}
