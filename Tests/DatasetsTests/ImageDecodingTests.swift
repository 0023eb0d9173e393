import Datasets
import Foundation
import XCTest
import _TestSupport

/// JPEG and PNG decoding to RGB: exact for PNG in every colour type, close for JPEG, one clear
/// error naming the file for bad input.
final class ImageDecodingTests: XCTestCase {
  /// Deterministic bytes `count` long.
  func pattern(_ count: Int, multiplier: Int = 37) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* multiplier &+ 11) }
  }

  func decode(_ data: Data) throws -> RGBImage { try ImageDecoder.decode(data, path: "test.img") }

  func testPNGColourTypesDecodeExactlyToRGB() throws {
    let (w, h) = (5, 3)
    let rgb = pattern(w * h * 3)
    XCTAssertEqual(try decode(encodePNG(rgb, width: w, height: h, kind: .rgb)), RGBImage(width: w, height: h, pixels: rgb))

    let gray = pattern(w * h, multiplier: 53)
    XCTAssertEqual(try decode(encodePNG(gray, width: w, height: h, kind: .gray)).pixels, gray.flatMap { [$0, $0, $0] })

    // Alpha is dropped, not composited (PIL's convert("RGB")), even for transparent pixels.
    let rgba = pattern(w * h * 4, multiplier: 29)
    let dropped = (0..<(w * h)).flatMap { rgba[(4 * $0)..<(4 * $0 + 3)] }
    XCTAssertEqual(try decode(encodePNG(rgba, width: w, height: h, kind: .rgba)).pixels, dropped)

    let palette: [UInt8] = [255, 0, 0, 0, 128, 0, 10, 20, 30, 200, 201, 202]
    let indices = (0..<(w * h)).map { UInt8($0 % 4) }
    XCTAssertEqual(
      try decode(encodePNG(indices, width: w, height: h, kind: .palette, palette: palette)).pixels,
      indices.flatMap { palette[(3 * Int($0))..<(3 * Int($0) + 3)] })
  }

  func testJPEGDecodesCloseToTheSource() throws {
    let (w, h) = (32, 24)
    var rgb = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
      for x in 0..<w {
        rgb[(y * w + x) * 3] = UInt8(x * 8)
        rgb[(y * w + x) * 3 + 1] = UInt8(y * 10)
        rgb[(y * w + x) * 3 + 2] = UInt8(128 + (x + y) * 2)
      }
    }
    let image = try decode(encodeJPEG(rgb, width: w, height: h, quality: 95))
    XCTAssertEqual(image.width, w)
    XCTAssertEqual(image.height, h)
    let errors = zip(image.pixels, rgb).map { abs(Int($0) - Int($1)) }
    XCTAssertLessThan(Double(errors.reduce(0, +)) / Double(errors.count), 2.0)
    XCTAssertLessThanOrEqual(errors.max()!, 16)

    let gray = (0..<(w * h)).map { UInt8(($0 % w) * 8) }
    let grayImage = try decode(encodeJPEG(gray, width: w, height: h, components: 1))
    for i in 0..<(w * h) {
      XCTAssertEqual(grayImage.pixels[3 * i], grayImage.pixels[3 * i + 1])
      XCTAssertEqual(grayImage.pixels[3 * i], grayImage.pixels[3 * i + 2])
      XCTAssertLessThanOrEqual(abs(Int(grayImage.pixels[3 * i]) - Int(gray[i])), 8)
    }
  }

  /// Adobe CMYK JPEGs store inverted values: (c, m, y, k) decodes to R = c·k/255, G = m·k/255,
  /// B = y·k/255 (PIL's conversion of the un-inverted values).
  func testCMYKJPEGIsConvertedToRGB() throws {
    let (w, h) = (16, 16)
    let cmyk = [[UInt8]](repeating: [200, 100, 50, 150], count: w * h).flatMap { $0 }
    let image = try decode(encodeJPEG(cmyk, width: w, height: h, components: 4, quality: 100))
    let expected = [200, 100, 50].map { $0 * 150 / 255 }  // 117, 58, 29
    for i in 0..<(w * h) {
      for c in 0..<3 { XCTAssertLessThanOrEqual(abs(Int(image.pixels[3 * i + c]) - expected[c]), 2) }
    }
  }

  func testBadImagesGiveOneLineNamingTheFile() throws {
    let directory = try makeTemporaryDirectory(self)
    let jpeg = encodeJPEG(pattern(16 * 16 * 3), width: 16, height: 16)
    let png = encodePNG(pattern(16 * 16 * 3), width: 16, height: 16, kind: .rgb)
    let cases: [(String, Data, String)] = [
      ("text.jpg", Data("hello".utf8), "not a JPEG or PNG"),
      ("empty.png", Data(), "not a JPEG or PNG"),
      ("truncated.jpg", jpeg.prefix(jpeg.count / 2), "JPEG"),
      ("truncated.png", png.prefix(png.count / 2), "PNG"),
      ("corrupt.png", png.prefix(16) + Data(repeating: 7, count: 64), "PNG"),
    ]
    for (name, data, reason) in cases {
      let url = directory.appendingPathComponent(name)
      try data.write(to: url)
      XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: url), name) { error in
        let line = "\(error)"
        XCTAssert(line.hasPrefix(url.path + ": unreadable image ("), line)
        XCTAssert(line.contains(reason), line)
        XCTAssertFalse(line.contains("\n"), line)
      }
    }
    let missing = directory.appendingPathComponent("missing.png")
    XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: missing)) {
      XCTAssertEqual($0 as? DatasetError, .missingFile(path: missing.path))
    }
  }
}
