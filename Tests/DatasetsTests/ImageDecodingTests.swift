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

  /// Offset of the first `0xFF marker` in a JPEG's header segments.
  func markerOffset(_ jpeg: [UInt8], _ marker: UInt8) throws -> Int {
    try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == marker }, "marker \(marker)")
  }

  /// `bytes` is rejected as a corrupt image whose reason mentions `reason`.
  func assertCorrupt(_ bytes: [UInt8], _ reason: String, line: UInt = #line) {
    XCTAssertThrowsError(try decode(Data(bytes)), line: line) { error in
      guard case .corruptImage(path: "test.img", let found)? = error as? DatasetError else {
        return XCTFail("\(error)", line: line)
      }
      XCTAssert(found.contains(reason), found, line: line)
    }
  }

  /// A header declaring more pixels than the bound is rejected before the pixels are allocated:
  /// a small PNG declaring 20000×20000 and a JPEG declaring 12000×12000 (both used to decode).
  func testImageBombsAreRejectedFromTheirHeader() throws {
    // PNG: the IHDR chunk's width and height are bytes 16..<24, its CRC bytes 29..<33.
    var png = [UInt8](encodePNG(pattern(16 * 16 * 3), width: 16, height: 16, kind: .rgb))
    png.replaceSubrange(16..<24, with: bigEndian(20000) + bigEndian(20000))
    png.replaceSubrange(29..<33, with: bigEndian(crc32(png[12..<29])))
    XCTAssertThrowsError(try decode(Data(png))) {
      XCTAssertEqual(
        $0 as? DatasetError, .imageTooLarge(path: "test.img", width: 20000, height: 20000, maximumPixels: 89_478_485))
      XCTAssertEqual("\($0)", "test.img: image declares 20000×20000 pixels, more than the 89478485 allowed")
    }
    // JPEG: the SOF0 segment is FF C0, length, precision, then height and width.
    var jpeg = [UInt8](encodeJPEG(pattern(16 * 16 * 3), width: 16, height: 16))
    let sof = try markerOffset(jpeg, 0xC0)
    jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0x2E, 0xE0, 0x2E, 0xE0])
    XCTAssertThrowsError(try decode(Data(jpeg))) {
      XCTAssertEqual(
        $0 as? DatasetError, .imageTooLarge(path: "test.img", width: 12000, height: 12000, maximumPixels: 89_478_485))
    }
    // The bound is the caller's.
    let small = encodePNG(pattern(16 * 16 * 3), width: 16, height: 16, kind: .rgb)
    XCTAssertEqual(try ImageDecoder.decode(small, path: "s.png", maximumPixels: 256).width, 16)
    XCTAssertThrowsError(try ImageDecoder.decode(small, path: "s.png", maximumPixels: 255)) {
      XCTAssertEqual($0 as? DatasetError, .imageTooLarge(path: "s.png", width: 16, height: 16, maximumPixels: 255))
    }
  }

  /// JPEG data that ends early or is corrupt is an error, not grey padding; extraneous bytes
  /// before a marker (seen in real ImageNet files) lose nothing and are accepted.
  func testJPEGWhoseDataEndsEarlyOrIsCorruptIsAnError() throws {
    let source = encodeJPEG(pattern(64 * 64 * 3), width: 64, height: 64)
    let jpeg = [UInt8](source)
    // The header claims 1000×1000 (under the pixel bound) over the data of 64×64.
    var grown = jpeg
    let sof = try markerOffset(jpeg, 0xC0)
    grown.replaceSubrange((sof + 5)..<(sof + 9), with: [0x03, 0xE8, 0x03, 0xE8])
    assertCorrupt(grown, "premature end of data segment")
    // Truncated, with an end-of-image marker after the cut.
    assertCorrupt(Array(jpeg.prefix(jpeg.count / 2)) + [0xFF, 0xD9], "premature end of data segment")
    // Entropy-coded data replaced by all-one bits (stuffed 0xFF 0x00): no valid Huffman code.
    let sos = try markerOffset(jpeg, 0xDA)
    let start = sos + 2 + (Int(jpeg[sos + 2]) << 8 | Int(jpeg[sos + 3]))
    var corrupt = jpeg
    for i in stride(from: start, to: jpeg.count - 3, by: 2) { (corrupt[i], corrupt[i + 1]) = (0xFF, 0x00) }
    assertCorrupt(corrupt, "bad Huffman code")
    // Three stray bytes before the DQT marker.
    let dqt = try markerOffset(jpeg, 0xDB)
    let padded = Array(jpeg[..<dqt]) + [0, 0, 0] + Array(jpeg[dqt...])
    XCTAssertEqual(try decode(Data(padded)), try decode(source))
  }

  /// A progressive JPEG repeating a scan is decoded up to 1000 scans and rejected past them,
  /// before it keeps the decoder busy for minutes.
  func testJPEGWithTooManyScansIsAnError() throws {
    let jpeg = [UInt8](encodeJPEG(pattern(16 * 16 * 3), width: 16, height: 16, progressive: true))
    let lastScan = try XCTUnwrap((0..<(jpeg.count - 1)).last { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA })
    let scan = jpeg[lastScan..<(jpeg.count - 2)]
    func repeating(_ times: Int) -> Data {
      Data(jpeg[..<lastScan] + (0..<times).flatMap { _ in scan } + [0xFF, 0xD9])
    }
    XCTAssertEqual(try decode(repeating(2)).width, 16)
    XCTAssertThrowsError(try decode(repeating(1200))) {
      XCTAssertEqual("\($0)", "test.img: unreadable image (JPEG: more than 1000 scans)")
    }
  }

  /// A PNG whose image data stream is cut short inside well-formed chunks (valid CRCs) is an
  /// error: libpng's simplified API reports it rather than padding the missing rows.
  func testPNGWithShortImageDataIsAnError() throws {
    let png = [UInt8](encodePNG(pattern(16 * 16 * 3), width: 16, height: 16, kind: .rgb))
    var rebuilt = Array(png.prefix(8))
    var offset = 8
    while offset + 12 <= png.count {
      let length = png[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
      let type = Array(png[(offset + 4)..<(offset + 8)])
      var data = Array(png[(offset + 8)..<(offset + 8 + length)])
      if type == Array("IDAT".utf8) { data = Array(data.prefix(data.count / 2)) }
      rebuilt += bigEndian(UInt32(data.count)) + type + data + bigEndian(crc32(type + data))
      offset += 12 + length
    }
    XCTAssertLessThan(rebuilt.count, png.count)
    assertCorrupt(rebuilt, "Not enough image data")
  }

  /// A path that is a directory is said plainly.
  func testDirectoryInsteadOfImage() throws {
    let directory = try makeTemporaryDirectory(self).appendingPathComponent("x.png")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: directory)) {
      XCTAssertEqual("\($0)", "\(directory.path): is a directory, not a file")
    }
  }
}
