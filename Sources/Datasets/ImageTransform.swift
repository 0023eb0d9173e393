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
/// Resampling is torchvision's antialiased bilinear filter (`interpolate(mode="bilinear",
/// antialias=True, align_corners=False)`, the tensor path of `Resize` / `RandomResizedCrop`;
/// PIL's bilinear resize uses the same filter), within the crop (training) or the whole image
/// (evaluation), in float without rounding to 8 bits in between (PIL rounds after each pass, so
/// its values differ by up to about 1/255).
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

  /// A crop rectangle in source pixels: rows `top..<top + height`, columns
  /// `left..<left + width`.
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
      resample(image, crop: crop, flip: flip, into: output)
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
      resample(
        image, rows: 0..<image.height, columns: 0..<image.width, resized: (resizedHeight, resizedWidth),
        window: (top, left), flip: false, into: output)
    }
    normalize(output)
  }

  /// The training transform with given choices, without colour jitter: `crop` resized to
  /// `size`×`size`, mirrored if `flip`, normalised.
  public func render(_ image: RGBImage, crop: Crop, flip: Bool, into output: UnsafeMutablePointer<Float>) {
    resample(image, crop: crop, flip: flip, into: output)
    normalize(output)
  }

  /// `crop` resized to `size`×`size`, mirrored if `flip`, values in [0, 1].
  private func resample(_ image: RGBImage, crop: Crop, flip: Bool, into output: UnsafeMutablePointer<Float>) {
    resample(
      image, rows: crop.top..<(crop.top + crop.height), columns: crop.left..<(crop.left + crop.width),
      resized: (size, size), window: (0, 0), flip: flip, into: output)
  }

  /// Scales `[3, size, size]` values in [0, 1] to normalised values in place.
  private func normalize(_ output: UnsafeMutablePointer<Float>) {
    let plane = size * size
    for c in 0..<3 {
      let (mean, std) = (normalization.mean[c], normalization.std[c])
      for i in (c * plane)..<((c + 1) * plane) { output[i] = (output[i] - mean) / std }
    }
  }

  /// Resizes the region `rows` × `columns` of `image` to `resized` with the antialiased bilinear
  /// filter of torchvision / PIL (`filterTaps`), and writes the `size`×`size` window at
  /// `window` of the result (mirrored if `flip`) to `output` as planar values in [0, 1].
  /// Separable: rows first into a buffer, then columns.
  private func resample(
    _ image: RGBImage, rows: Range<Int>, columns: Range<Int>, resized: (height: Int, width: Int),
    window: (top: Int, left: Int), flip: Bool, into output: UnsafeMutablePointer<Float>
  ) {
    let columnTaps = Self.filterTaps(input: columns, outputSize: resized.width, outputs: window.left..<(window.left + size))
    let rowTaps = Self.filterTaps(input: rows, outputSize: resized.height, outputs: window.top..<(window.top + size))
    let firstRow = rowTaps.map(\.start).min()!
    let lastRow = rowTaps.map { $0.start + $0.weights.count }.max()!
    // Horizontal pass: rows firstRow..<lastRow, `size` output columns, interleaved RGB.
    var horizontal = [Float](repeating: 0, count: (lastRow - firstRow) * size * 3)
    image.pixels.withUnsafeBufferPointer { pixels in
      for row in firstRow..<lastRow {
        let source = row * image.width * 3
        let target = (row - firstRow) * size * 3
        for x in 0..<size {
          let (start, weights) = columnTaps[flip ? size - 1 - x : x]
          var (r, g, b): (Float, Float, Float) = (0, 0, 0)
          for (k, w) in weights.enumerated() {
            let p = source + (start + k) * 3
            r += w * Float(pixels[p])
            g += w * Float(pixels[p + 1])
            b += w * Float(pixels[p + 2])
          }
          (horizontal[target + 3 * x], horizontal[target + 3 * x + 1], horizontal[target + 3 * x + 2]) = (r, g, b)
        }
      }
    }
    // Vertical pass into planar output.
    let plane = size * size
    for y in 0..<size {
      let (start, weights) = rowTaps[y]
      for x in 0..<size {
        for c in 0..<3 {
          var sum: Float = 0
          for (k, w) in weights.enumerated() { sum += w * horizontal[((start + k - firstRow) * size + x) * 3 + c] }
          output[c * plane + y * size + x] = sum / 255
        }
      }
    }
  }

  /// The input pixels and weights of output pixels `outputs` when `input` (a range of pixel
  /// indices along one axis) is resized to `outputSize`: PIL's / PyTorch's antialiased bilinear
  /// filter. With `scale = input.count / outputSize`, output `o` is centred at
  /// `scale·(o + ½)`; the triangle filter `max(0, 1 − |d|)` is stretched by `scale` when
  /// shrinking (support `max(scale, 1)`), cut to the input and normalised to sum 1. Enlarging,
  /// this is plain bilinear interpolation clamped at the edges.
  static func filterTaps(input: Range<Int>, outputSize: Int, outputs: Range<Int>) -> [(start: Int, weights: [Float])] {
    let scale = Double(input.count) / Double(outputSize)
    let support = max(scale, 1)
    let inverse = scale >= 1 ? 1 / scale : 1
    return outputs.map { o in
      let center = scale * (Double(o) + 0.5)
      // Int(_:) truncates toward zero, as the C casts of the reference implementations.
      let low = max(Int(center - support + 0.5), 0)
      let high = min(Int(center + support + 0.5), input.count)
      let weights = (low..<high).map { max(0, 1 - abs((Double($0) - center + 0.5) * inverse)) }
      let total = weights.reduce(0, +)
      return (input.lowerBound + low, weights.map { Float($0 / total) })
    }
  }
}
