import CJPEG
import CPNG
import Foundation

/// The pixel layouts `encodePNG` writes.
public enum PNGKind: Int32 {
  /// 1 byte per pixel.
  case gray = 0
  /// 3 bytes per pixel.
  case rgb = 1
  /// 4 bytes per pixel (alpha last).
  case rgba = 2
  /// 1 palette index per pixel.
  case palette = 3
}

/// A PNG of `pixels` (interleaved, `width·height·components` bytes; palette: indices into
/// `palette`, RGB triples), written by libpng.
public func encodePNG(_ pixels: [UInt8], width: Int, height: Int, kind: PNGKind, palette: [UInt8] = []) -> Data {
  var output: UnsafeMutablePointer<UInt8>?
  var size = 0
  var message = [CChar](repeating: 0, count: Int(CPNG_MESSAGE_LENGTH))
  let status = cpng_encode(pixels, Int32(width), Int32(height), kind.rawValue, palette.isEmpty ? nil : palette, Int32(palette.count / 3), &output, &size, &message)
  precondition(status == 0, "PNG encoding failed: \(text(message))")
  defer { free(output) }
  return Data(bytes: output!, count: size)
}

/// A baseline (or `progressive`) JPEG of `pixels` (interleaved gray, RGB or CMYK: `components`
/// 1, 3 or 4) at `quality`, written by libjpeg-turbo (CMYK with an Adobe marker, values stored as
/// given).
public func encodeJPEG(
  _ pixels: [UInt8], width: Int, height: Int, components: Int = 3, quality: Int = 95, progressive: Bool = false
) -> Data {
  var output: UnsafeMutablePointer<UInt8>?
  var size: UInt = 0
  var message = [CChar](repeating: 0, count: Int(CJPEG_MESSAGE_LENGTH))
  let status = cjpeg_encode(pixels, Int32(width), Int32(height), Int32(components), Int32(quality), progressive ? 1 : 0, &output, &size, &message)
  precondition(status == 0, "JPEG encoding failed: \(text(message))")
  defer { free(output) }
  return Data(bytes: output!, count: Int(size))
}

/// A NUL-terminated C message as a string.
private func text(_ message: [CChar]) -> String {
  String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Writes a small image folder `root/<class>/<i>.{png,jpg}`: `imagesPerClass` smooth RGB images
/// of `size`×`size` per class, alternating PNG and JPEG, each class with its own colour.
public func writeImageFolder(at root: URL, classes: [String], imagesPerClass: Int, size: Int = 40) throws {
  for (label, name) in classes.enumerated() {
    let folder = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for i in 0..<imagesPerClass {
      var pixels = [UInt8](repeating: 0, count: size * size * 3)
      for y in 0..<size {
        for x in 0..<size {
          let base = (y * size + x) * 3
          pixels[base] = UInt8((x * 255) / size)
          pixels[base + 1] = UInt8((y * 255) / size)
          pixels[base + 2] = UInt8(truncatingIfNeeded: label * 60 + i * 7)
        }
      }
      let data = i.isMultiple(of: 2)
        ? encodePNG(pixels, width: size, height: size, kind: .rgb) : encodeJPEG(pixels, width: size, height: size)
      try data.write(to: folder.appendingPathComponent("\(i).\(i.isMultiple(of: 2) ? "png" : "jpg")"))
    }
  }
}
