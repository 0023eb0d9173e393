/// Per-channel normalisation constants: a pixel `p` (uint8) becomes `(p / 255 − mean[c]) / std[c]`
/// (SPEC §8.2). Means and standard deviations are of pixel values scaled to [0, 1].
public struct Normalization: Hashable, Codable, Sendable {
  /// Mean of each channel.
  public var mean: [Float]
  /// Standard deviation of each channel.
  public var std: [Float]

  /// Constants for `mean.count` channels; `std` must have as many entries.
  public init(mean: [Float], std: [Float]) {
    precondition(mean.count == std.count, "normalisation needs one std per mean")
    self.mean = mean
    self.std = std
  }

  /// CIFAR-10 training-set statistics (SPEC §8.2, used by DARTS, P-DARTS and PC-DARTS).
  public static let cifar10 = Normalization(
    mean: [0.49139968, 0.48215827, 0.44653124], std: [0.24703233, 0.24348505, 0.26158768])
  /// CIFAR-100 statistics as used by P-DARTS (SPEC §8.2).
  public static let cifar100 = Normalization(
    mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761])
  /// Fashion-MNIST training-set statistics.
  public static let fashionMNIST = Normalization(mean: [0.2860], std: [0.3530])
  /// MNIST training-set statistics.
  public static let mnist = Normalization(mean: [0.1307], std: [0.3081])
  /// ImageNet statistics used by every ImageNet transform of the three repositories (SPEC §6.2).
  public static let imageNet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

  /// The normalised value of each of the 256 pixel values of `channel`.
  func lookupTable(channel: Int) -> [Float] {
    (0..<256).map { (Float($0) / 255 - mean[channel]) / std[channel] }
  }
}

/// A labelled image set held in memory as uint8 pixels, planar `[N, C, H, W]`, in file order.
///
/// This is what the readers return (one value per part: training or test set). Images are
/// converted to float only when a batch is assembled (see `BatchSampler`), so a CIFAR-10
/// training set takes 150 MB rather than 600 MB.
public struct ImageDataset: Sendable {
  /// Pixels of all images, `[count, channels, height, width]` row-major.
  public let pixels: [UInt8]
  /// Class of each image, in `0..<classCount`.
  public let labels: [Int]
  /// Colour channels per image (3 for CIFAR, 1 for MNIST-like sets).
  public let channels: Int
  /// Image height in pixels.
  public let height: Int
  /// Image width in pixels.
  public let width: Int
  /// Number of classes.
  public let classCount: Int
  /// The constants batches are normalised with. Settable, e.g. for PC-DARTS, which keeps the
  /// CIFAR-10 constants on CIFAR-100 (SPEC §5.4).
  public var normalization: Normalization

  /// Wraps `pixels` (`[labels.count, channels, height, width]`) and `labels`.
  public init(
    pixels: [UInt8], labels: [Int], channels: Int, height: Int, width: Int, classCount: Int,
    normalization: Normalization
  ) {
    precondition(
      pixels.count == labels.count * channels * height * width,
      "\(pixels.count) pixels for \(labels.count) images of \(channels)×\(height)×\(width)")
    precondition(normalization.mean.count == channels, "normalisation for \(channels) channels")
    precondition(labels.allSatisfy { (0..<classCount).contains($0) }, "label outside 0..<\(classCount)")
    self.pixels = pixels
    self.labels = labels
    self.channels = channels
    self.height = height
    self.width = width
    self.classCount = classCount
    self.normalization = normalization
  }

  /// Number of images.
  public var count: Int { labels.count }
  /// Values per image, `channels · height · width`.
  public var imageSize: Int { channels * height * width }
  /// The shape of one image, `[channels, height, width]`.
  public var imageShape: [Int] { [channels, height, width] }
}

/// Which half of a dataset's files to read.
public enum DatasetPart: String, CaseIterable, Sendable {
  /// The training set (CIFAR: 50,000 images; MNIST-like: 60,000).
  case train
  /// The test set (10,000 images for all four datasets).
  case test
}

/// The index split of a training set for architecture search (SPEC §2.1).
///
/// With `n = min(limit, count)`, indices `[0, ⌊trainPortion·n⌋)` train the network weights and
/// `[⌊trainPortion·n⌋, n)` train the architecture parameters. The split is by index in file
/// order, not shuffled.
public struct SearchSplit: Hashable, Sendable {
  /// Indices used for the weight steps.
  public let weights: Range<Int>
  /// Indices used for the architecture steps (the "validation" half in DARTS).
  public let architecture: Range<Int>

  /// Splits the first `min(limit, count)` indices of a dataset of `count` images.
  /// - Parameters:
  ///   - trainPortion: fraction for the weights, in [0, 1] (DARTS default 0.5).
  ///   - limit: use only the first `limit` images (nil: all), e.g. for quick demo presets.
  public init(count: Int, trainPortion: Double = 0.5, limit: Int? = nil) {
    precondition((0...1).contains(trainPortion), "trainPortion \(trainPortion) outside [0, 1]")
    precondition(limit.map { $0 >= 0 } ?? true, "negative limit")
    let n = min(limit ?? count, count)
    let cut = Int((trainPortion * Double(n)).rounded(.down))
    weights = 0..<cut
    architecture = cut..<n
  }
}
