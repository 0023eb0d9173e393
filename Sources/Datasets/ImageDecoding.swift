import CJPEG
import CPNG
import Diagnostics
import Foundation

/// An image decoded to interleaved 8-bit RGB, `[height, width, 3]` row-major.
public struct RGBImage: Equatable, Sendable {
  public let width: Int
  public let height: Int
  /// `height · width · 3` bytes: R, G, B of each pixel, rows top to bottom.
  public let pixels: [UInt8]

  /// Wraps `pixels` (`[height, width, 3]`).
  public init(width: Int, height: Int, pixels: [UInt8]) {
    precondition(pixels.count == width * height * 3, "\(pixels.count) bytes for \(width)×\(height) RGB")
    self.width = width
    self.height = height
    self.pixels = pixels
  }
}

/// JPEG (libjpeg-turbo) and PNG (libpng) decoding, by file signature rather than extension.
///
/// Every image comes out as 8-bit RGB: grayscale is replicated, palette and 16-bit PNGs are
/// converted by libpng, a PNG alpha channel is dropped, CMYK/YCCK JPEGs are converted (Adobe's
/// inverted CMYK undone first). A truncated or corrupt JPEG or PNG is an error, never padded;
/// harmless libjpeg warnings (extraneous bytes before a marker) are ignored, as PIL does. An
/// image whose header declares more than `maximumPixels` pixels is rejected before its pixels
/// are allocated.
public enum ImageDecoder {
  /// The default bound on decoded pixels: 89,478,485, PIL's `MAX_IMAGE_PIXELS` (a quarter GiB of
  /// 3-byte pixels, 1 GiB as RGBA): a decompression bomb declaring 20,000 × 20,000 is rejected
  /// from its header.
  public static let defaultMaximumPixels = 89_478_485

  /// Decodes a JPEG or PNG file.
  /// - Throws: `DatasetError` naming the file: missing, a directory, unreadable, not a
  ///   JPEG/PNG, corrupt, truncated, or more than `maximumPixels` pixels.
  public static func decode(contentsOf url: URL, maximumPixels: Int = defaultMaximumPixels) throws -> RGBImage {
    let bytes: Data
    do {
      bytes = try readFile(url)
    } catch {
      guard FileManager.default.fileExists(atPath: url.path) else { throw DatasetError.missingFile(path: url.path) }
      throw DatasetError(error)
    }
    return try decode(bytes, path: url.path, maximumPixels: maximumPixels)
  }

  /// Decodes JPEG or PNG bytes; `path` names them in errors.
  /// - Parameter maximumPixels: the most pixels (width · height) the header may declare.
  /// - Throws: `DatasetError.corruptImage` or `.imageTooLarge` naming `path`; never traps,
  ///   whatever the bytes.
  public static func decode(_ bytes: Data, path: String, maximumPixels: Int = defaultMaximumPixels) throws -> RGBImage {
    let jpeg = bytes.starts(with: [0xFF, 0xD8, 0xFF])
    let png = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    guard jpeg || png else {
      throw DatasetError.corruptImage(path: path, reason: "not a JPEG or PNG file")
    }
    var output: UnsafeMutablePointer<UInt8>?
    var (width, height): (Int32, Int32) = (0, 0)
    var message = [CChar](repeating: 0, count: Int(max(CJPEG_MESSAGE_LENGTH, CPNG_MESSAGE_LENGTH)))
    let limit = UInt64(max(0, maximumPixels))
    let status = bytes.withUnsafeBytes { raw -> Int32 in
      let data = raw.bindMemory(to: UInt8.self).baseAddress!
      return jpeg
        ? cjpeg_decode_rgb(data, UInt(raw.count), limit, &output, &width, &height, &message)
        : cpng_decode_rgb(data, raw.count, limit, &output, &width, &height, &message)
    }
    defer { free(output) }
    if status == 2 {
      throw DatasetError.imageTooLarge(path: path, width: Int(width), height: Int(height), maximumPixels: maximumPixels)
    }
    guard status == 0, let output else {
      let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      throw DatasetError.corruptImage(path: path, reason: "\(jpeg ? "JPEG" : "PNG"): \(reason)")
    }
    guard width > 0, height > 0 else { throw DatasetError.corruptImage(path: path, reason: "empty image") }
    let count = Int(width) * Int(height) * 3
    return RGBImage(width: Int(width), height: Int(height), pixels: Array(UnsafeBufferPointer(start: output, count: count)))
  }
}
