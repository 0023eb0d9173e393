import Foundation
import TensorCore

/// The ImageNet-style per-image transforms of SPEC §5.5 / §6.2 (torchvision semantics), from a
/// decoded RGB image of any size to a normalised `[3, size, size]` float image.
///
/// - Training: RandomResizedCrop(`size`, scale 0.08–1, ratio 3/4–4/3) → horizontal flip with
///   probability `flipProbability` → scale to [0, 1] → optional `ColorJitter` → normalise.
/// - Evaluation: resize the shorter side to `round(size·256/224)` (256 for 224) → centre crop
///   `size` → scale → normalise.
///
/// Resampling is bilinear with half-pixel centres (`align_corners=False`), clamped at the edges
/// of the crop (training) or of the image (evaluation), without an antialiasing filter and
/// without rounding to 8 bits in between; torchvision's PIL path antialiases when it shrinks,
/// so values differ slightly from PyTorch's on downscaled images (documented difference).
public struct ImageTransform: Hashable, Codable, Sendable {
  /// Output side in pixels (224 for ImageNet).
  public var size: Int
  /// Random-resized-crop training transform (true) or resize + centre-crop evaluation (false).
  public var training: Bool
  /// Fraction of the image area a training crop covers, drawn uniformly.
  public var scale: ClosedRange<Double> = 0.08...1
  /// Aspect ratio (width / height) of a training crop, drawn log-uniformly.
  public var ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3)
  /// Probability of a horizontal flip in training.
  public var flipProbability: Double = 0.5
  /// Colour jitter of training images (nil: none, as in the search; ImageNet training uses
  /// `.imageNet`, SPEC §6.2).
  public var colorJitter: ColorJitter?
  /// Per-channel normalisation (ImageNet mean and std).
  public var normalization: Normalization = .imageNet

  /// The training transform at `size`.
  public static func training(size: Int) -> ImageTransform { ImageTransform(size: size, training: true) }
  /// The evaluation transform at `size`.
  public static func evaluation(size: Int) -> ImageTransform { ImageTransform(size: size, training: false) }

  /// Side the evaluation transform resizes the shorter image side to: `round(size·256/224)`.
  public var resizeSide: Int { Int((Double(size) * 256 / 224).rounded()) }

  /// A crop rectangle in source pixels.
  public struct Crop: Hashable, Sendable {
    public var top: Int, left: Int, height: Int, width: Int
    public init(top: Int, left: Int, height: Int, width: Int) {
      (self.top, self.left, self.height, self.width) = (top, left, height, width)
    }
  }

  /// torchvision's `RandomResizedCrop.get_params`: up to 10 tries of area fraction
  /// `uniform(scale)` and aspect ratio `exp(uniform(log ratio))`, side lengths rounded to the
  /// nearest integer; the first that fits is placed uniformly. If none fits, the centre crop of
  /// the whole image with the aspect ratio clamped to `ratio`. Draws, per try: area, ratio, then
  /// (on success) top and left.
  public func randomCrop(height: Int, width: Int, using generator: inout SeededGenerator) -> Crop {
    let area = Double(height * width)
    let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
    for _ in 0..<10 {
      let target = area * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * uniformDouble(using: &generator))
      let aspect = exp(logRatio.lowerBound + (logRatio.upperBound - logRatio.lowerBound) * uniformDouble(using: &generator))
      let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
      let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
      if 0 < w && w <= width && 0 < h && h <= height {
        let top = uniformInt(below: height - h + 1, using: &generator)
        let left = uniformInt(below: width - w + 1, using: &generator)
        return Crop(top: top, left: left, height: h, width: w)
      }
    }
    let inRatio = Double(width) / Double(height)
    var (h, w) = (height, width)
    if inRatio < ratio.lowerBound {
      h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
    } else if inRatio > ratio.upperBound {
      w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
    }
    return Crop(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
  }

  /// Writes `image` transformed to `output` (`3·size·size` floats, planar RGB), drawing the
  /// training crop, the flip and then the colour jitter from `generator` (evaluation draws
  /// nothing).
  public func render(_ image: RGBImage, using generator: inout SeededGenerator, into output: UnsafeMutablePointer<Float>) {
    if training {
      let crop = randomCrop(height: image.height, width: image.width, using: &generator)
      let flip = flipProbability > 0 && uniformDouble(using: &generator) < flipProbability
      resample(
        image, rows: crop.top..<(crop.top + crop.height), columns: crop.left..<(crop.left + crop.width),
        rowStart: Double(crop.top), rowStep: Double(crop.height) / Double(size),
        columnStart: Double(crop.left), columnStep: Double(crop.width) / Double(size), flip: flip, into: output)
      if let colorJitter {
        colorJitter.apply(colorJitter.draw(using: &generator), to: output, pixels: size * size)
      }
    } else {
      // torchvision Resize(side): the shorter side becomes `side`, the longer `⌊side·long/short⌋`;
      // CenterCrop: offset round((resized − size) / 2), ties to even as Python's round.
      let side = resizeSide
      let (resizedHeight, resizedWidth) = image.height <= image.width
        ? (side, side * image.width / image.height) : (side * image.height / image.width, side)
      let top = Int((Double(resizedHeight - size) / 2).rounded(.toNearestOrEven))
      let left = Int((Double(resizedWidth - size) / 2).rounded(.toNearestOrEven))
      let rowStep = Double(image.height) / Double(resizedHeight)
      let columnStep = Double(image.width) / Double(resizedWidth)
      resample(
        image, rows: 0..<image.height, columns: 0..<image.width,
        rowStart: Double(top) * rowStep, rowStep: rowStep,
        columnStart: Double(left) * columnStep, columnStep: columnStep, flip: false, into: output)
    }
    let plane = size * size
    for c in 0..<3 {
      let (mean, std) = (normalization.mean[c], normalization.std[c])
      for i in (c * plane)..<((c + 1) * plane) { output[i] = (output[i] - mean) / std }
    }
  }

  /// Bilinear sampling: output pixel (y, x) reads source position
  /// `(rowStart + (y + ½)·rowStep − ½, columnStart + (x' + ½)·columnStep − ½)` with
  /// `x' = flip ? size − 1 − x : x`, clamped to `rows` × `columns`, scaled to [0, 1].
  private func resample(
    _ image: RGBImage, rows: Range<Int>, columns: Range<Int>, rowStart: Double, rowStep: Double,
    columnStart: Double, columnStep: Double, flip: Bool, into output: UnsafeMutablePointer<Float>
  ) {
    /// The two neighbours and the weight of the second along one axis.
    func taps(_ position: Double, _ range: Range<Int>) -> (Int, Int, Float) {
      let p = min(max(position, Double(range.lowerBound)), Double(range.upperBound - 1))
      let low = Int(p.rounded(.down))
      return (low, min(low + 1, range.upperBound - 1), Float(p - Double(low)))
    }
    let columnTaps = (0..<size).map { x in
      taps(columnStart + (Double(flip ? size - 1 - x : x) + 0.5) * columnStep - 0.5, columns)
    }
    let plane = size * size
    image.pixels.withUnsafeBufferPointer { pixels in
      for y in 0..<size {
        let (y0, y1, wy) = taps(rowStart + (Double(y) + 0.5) * rowStep - 0.5, rows)
        let row0 = y0 * image.width * 3, row1 = y1 * image.width * 3
        for x in 0..<size {
          let (x0, x1, wx) = columnTaps[x]
          for c in 0..<3 {
            let a = Float(pixels[row0 + 3 * x0 + c]), b = Float(pixels[row0 + 3 * x1 + c])
            let d = Float(pixels[row1 + 3 * x0 + c]), e = Float(pixels[row1 + 3 * x1 + c])
            let top = a + (b - a) * wx, bottom = d + (e - d) * wx
            output[c * plane + y * size + x] = (top + (bottom - top) * wy) / 255
          }
        }
      }
    }
  }
}
