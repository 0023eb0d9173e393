import TensorCore

/// The per-image training transform of SPEC §8.2, in torchvision's order: random crop from the
/// image zero-padded by `padding` pixels → horizontal flip with probability `flipProbability`
/// → scale to [0, 1] → normalise per channel → optional cutout.
///
/// Padded pixels are zero *before* normalisation (they become `−mean/std`, as in torchvision);
/// the cutout square is zero *after* it. The default value is the CIFAR search transform (pad 4,
/// flip 0.5, no cutout); `.evaluation` only scales and normalises.
public struct Augmentation: Hashable, Codable, Sendable {
  /// Zero padding on each side before the random crop back to the original size; 0: no crop.
  public var padding: Int
  /// Probability of a horizontal flip; 0: never.
  public var flipProbability: Float
  /// Side of the cutout square (DARTS evaluation uses 16); 0: no cutout.
  public var cutoutLength: Int

  /// The defaults are the CIFAR search transform of SPEC §2.1 / §8.2; DARTS evaluation adds
  /// `cutoutLength: 16`.
  public init(padding: Int = 4, flipProbability: Float = 0.5, cutoutLength: Int = 0) {
    precondition(padding >= 0 && cutoutLength >= 0, "negative padding or cutout length")
    precondition((0...1).contains(flipProbability), "flip probability outside [0, 1]")
    self.padding = padding
    self.flipProbability = flipProbability
    self.cutoutLength = cutoutLength
  }

  /// Scale to [0, 1] and normalise only (test / evaluation transform).
  public static let evaluation = Augmentation(padding: 0, flipProbability: 0, cutoutLength: 0)

  /// Draws the random choices for one `height`×`width` image, in this order: crop top, crop
  /// left (each uniform in `0...2·padding`, only if `padding > 0`), flip (one uniform, only if
  /// `flipProbability > 0`), cutout centre row and column (uniform over the image, only if
  /// `cutoutLength > 0`). Disabled steps consume no random numbers.
  public func draw(height: Int, width: Int, using generator: inout SeededGenerator) -> AugmentationDraw {
    var result = AugmentationDraw(cropTop: padding, cropLeft: padding, flip: false, cutoutCenter: nil)
    if padding > 0 {
      result.cropTop = uniformInt(below: 2 * padding + 1, using: &generator)
      result.cropLeft = uniformInt(below: 2 * padding + 1, using: &generator)
    }
    if flipProbability > 0 {
      result.flip = generator.nextUniform() < flipProbability
    }
    if cutoutLength > 0 {
      result.cutoutCenter = (
        uniformInt(below: height, using: &generator), uniformInt(below: width, using: &generator)
      )
    }
    return result
  }

  /// Image `index` of `dataset` transformed with `draw`: `[channels, height, width]` floats,
  /// row-major.
  public func apply(_ draw: AugmentationDraw, toImage index: Int, of dataset: ImageDataset) -> [Float] {
    let tables = (0..<dataset.channels).map { dataset.normalization.lookupTable(channel: $0) }
    return [Float](unsafeUninitializedCapacity: dataset.imageSize) { buffer, initialized in
      dataset.pixels.withUnsafeBufferPointer { pixels in
        render(
          draw, image: index, pixels: pixels, shape: dataset.imageShape, tables: tables,
          into: buffer.baseAddress!)
      }
      initialized = dataset.imageSize
    }
  }

  /// Writes the transformed image `image` of `pixels` (`[N] + shape` uint8) to `output`, using
  /// `tables[c][p]`, the normalised value of pixel value `p` in channel `c`.
  func render(
    _ draw: AugmentationDraw, image: Int, pixels: UnsafeBufferPointer<UInt8>, shape: [Int],
    tables: [[Float]], into output: UnsafeMutablePointer<Float>
  ) {
    let (channels, height, width) = (shape[0], shape[1], shape[2])
    let source = image * channels * height * width
    for c in 0..<channels {
      let table = tables[c]
      for y in 0..<height {
        let row = output + (c * height + y) * width
        let sourceY = y + draw.cropTop - padding
        guard (0..<height).contains(sourceY) else {
          row.update(repeating: table[0], count: width)
          continue
        }
        let sourceRow = source + (c * height + sourceY) * width
        for x in 0..<width {
          let sourceX = (draw.flip ? width - 1 - x : x) + draw.cropLeft - padding
          row[x] = (0..<width).contains(sourceX) ? table[Int(pixels[sourceRow + sourceX])] : table[0]
        }
      }
    }
    if let (centerY, centerX) = draw.cutoutCenter, cutoutLength > 0 {
      let rows = max(0, centerY - cutoutLength / 2)..<min(height, centerY - cutoutLength / 2 + cutoutLength)
      let columns = max(0, centerX - cutoutLength / 2)..<min(width, centerX - cutoutLength / 2 + cutoutLength)
      for c in 0..<channels {
        for y in rows {
          (output + (c * height + y) * width + columns.lowerBound).update(repeating: 0, count: columns.count)
        }
      }
    }
  }
}

/// The random choices of `Augmentation` for one image.
public struct AugmentationDraw: Sendable {
  /// Top row of the crop window in the padded image, `0...2·padding` (`padding`: no shift).
  public var cropTop: Int
  /// Left column of the crop window in the padded image, `0...2·padding`.
  public var cropLeft: Int
  /// Whether the cropped image is mirrored left–right.
  public var flip: Bool
  /// Centre (row, column) of the cutout square, or nil for none. The square covers rows
  /// `row − L/2 ..< row − L/2 + L` (integer division) and likewise columns, clipped to the image.
  public var cutoutCenter: (row: Int, column: Int)?

  /// Choices given explicitly (tests, visualisation); training draws them with
  /// `Augmentation.draw(height:width:using:)`.
  public init(cropTop: Int, cropLeft: Int, flip: Bool, cutoutCenter: (row: Int, column: Int)?) {
    self.cropTop = cropTop
    self.cropLeft = cropLeft
    self.flip = flip
    self.cutoutCenter = cutoutCenter
  }
}
