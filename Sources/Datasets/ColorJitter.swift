import TensorCore

/// torchvision's `ColorJitter` on a planar RGB float image with values in [0, 1] (SPEC §6.2:
/// brightness 0.4, contrast 0.4, saturation 0.4, hue 0.2 for ImageNet training).
///
/// The four adjustments run in a random order, each with a factor drawn uniformly from
/// `[max(0, 1 − x), 1 + x]` (hue: a shift in `[−hue, hue]` of the hue circle), and each result
/// is clamped to [0, 1]: brightness scales, contrast blends with the mean grey level of the
/// image, saturation blends with the image's greyscale (0.2989 R + 0.587 G + 0.114 B), hue
/// rotates H in HSV. Float arithmetic throughout (torchvision's PIL path rounds to 8 bits after
/// each step).
public struct ColorJitter: Hashable, Codable, Sendable {
  public var brightness: Double
  public var contrast: Double
  public var saturation: Double
  /// At most 0.5.
  public var hue: Double

  public init(brightness: Double = 0, contrast: Double = 0, saturation: Double = 0, hue: Double = 0) {
    precondition(brightness >= 0 && contrast >= 0 && saturation >= 0 && (0...0.5).contains(hue), "jitter strengths")
    (self.brightness, self.contrast, self.saturation, self.hue) = (brightness, contrast, saturation, hue)
  }

  /// The ImageNet training jitter of the three repositories.
  public static let imageNet = ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.2)

  /// The adjustments, by their position in `Draw.order`.
  public enum Adjustment: Int, Sendable { case brightness, contrast, saturation, hue }

  /// The random choices for one image. A nil factor skips its adjustment.
  public struct Draw: Equatable, Sendable {
    /// The order the adjustments run in (a permutation of all four).
    public var order: [Adjustment]
    public var brightness: Float?
    public var contrast: Float?
    public var saturation: Float?
    /// Hue shift as a fraction of the hue circle.
    public var hue: Float?

    public init(order: [Adjustment], brightness: Float?, contrast: Float?, saturation: Float?, hue: Float?) {
      (self.order, self.brightness, self.contrast, self.saturation, self.hue) = (order, brightness, contrast, saturation, hue)
    }
  }

  /// Draws, as torchvision's `get_params`: the order (a permutation of 4), then the brightness,
  /// contrast, saturation and hue factors of the non-zero strengths.
  public func draw(using generator: inout SeededGenerator) -> Draw {
    let order = shuffledPrefix(count: 4, length: 4, using: &generator).map { Adjustment(rawValue: $0)! }
    func factor(_ strength: Double) -> Float? {
      strength > 0 ? Float(max(0, 1 - strength) + (1 + strength - max(0, 1 - strength)) * uniformDouble(using: &generator)) : nil
    }
    let b = factor(brightness), c = factor(contrast), s = factor(saturation)
    let h = hue > 0 ? Float(-hue + 2 * hue * uniformDouble(using: &generator)) : nil
    return Draw(order: order, brightness: b, contrast: c, saturation: s, hue: h)
  }

  /// Applies `draw` to `image` (`[3, pixels]` planar, values in [0, 1]) in place.
  public func apply(_ draw: Draw, to image: UnsafeMutablePointer<Float>, pixels: Int) {
    let (r, g, b) = (image, image + pixels, image + 2 * pixels)
    func gray(_ i: Int) -> Float { 0.2989 * r[i] + 0.587 * g[i] + 0.114 * b[i] }
    /// `factor·x + (1 − factor)·other`, clamped, in every channel.
    func blend(_ factor: Float, with other: (Int) -> Float) {
      for channel in [r, g, b] {
        for i in 0..<pixels { channel[i] = min(max(factor * channel[i] + (1 - factor) * other(i), 0), 1) }
      }
    }
    for adjustment in draw.order {
      switch adjustment {
      case .brightness:
        if let f = draw.brightness { blend(f) { _ in 0 } }
      case .contrast:
        if let f = draw.contrast {
          let mean = (0..<pixels).reduce(Float(0)) { $0 + gray($1) } / Float(pixels)
          blend(f) { _ in mean }
        }
      case .saturation:
        if let f = draw.saturation {
          let grays = (0..<pixels).map(gray)
          blend(f) { grays[$0] }
        }
      case .hue:
        if let shift = draw.hue {
          for i in 0..<pixels { (r[i], g[i], b[i]) = Self.shiftHue(r[i], g[i], b[i], by: shift) }
        }
      }
    }
  }

  /// RGB → HSV, H += shift (mod 1), → RGB (torchvision's tensor formulas).
  static func shiftHue(_ r: Float, _ g: Float, _ b: Float, by shift: Float) -> (Float, Float, Float) {
    let maxc = max(r, g, b), minc = min(r, g, b)
    let range = maxc - minc
    guard range > 0 else { return (r, g, b) }  // grey: no hue
    let s = range / maxc
    let (rc, gc, bc) = ((maxc - r) / range, (maxc - g) / range, (maxc - b) / range)
    let h6: Float = maxc == r ? bc - gc : maxc == g ? 2 + rc - bc : 4 + gc - rc
    var h = (h6 / 6 + 1).truncatingRemainder(dividingBy: 1) + shift
    h -= h.rounded(.down)
    let v = maxc
    let sector = h * 6
    let i = Int(sector.rounded(.down)) % 6
    let f = sector - sector.rounded(.down)
    let p = min(max(v * (1 - s), 0), 1), q = min(max(v * (1 - s * f), 0), 1), t = min(max(v * (1 - s * (1 - f)), 0), 1)
    switch i {
    case 0: return (v, t, p)
    case 1: return (q, v, p)
    case 2: return (p, v, t)
    case 3: return (p, q, v)
    case 4: return (t, p, v)
    default: return (v, p, q)
    }
  }
}
