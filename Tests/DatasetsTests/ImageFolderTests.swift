import Datasets
import Foundation
import TensorCore
import XCTest
import _TestSupport

/// The ImageFolder reader, the ImageNet transforms, the per-class split and batches of image
/// folders.
final class ImageFolderTests: XCTestCase {
  let backend = CPUBackend(threads: 1)

  func testFolderListsSortedClassesAndImages() throws {
    let root = try makeTemporaryDirectory(self)
    try writeImageFolder(at: root, classes: ["b_dog", "a_cat", "C_bird"], imagesPerClass: 3, size: 8)
    try Data("notes".utf8).write(to: root.appendingPathComponent("a_cat/readme.txt"))
    try Data("x".utf8).write(to: root.appendingPathComponent("a_cat/.hidden.png"))
    try FileManager.default.createDirectory(at: root.appendingPathComponent(".cache"), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: root.appendingPathComponent("b_dog/1.jpg"), to: root.appendingPathComponent("b_dog/n01_7.JPEG"))
    let folder = try ImageFolder(directory: root, transform: .training(size: 8))
    XCTAssertEqual(folder.classNames, ["C_bird", "a_cat", "b_dog"], "code-point order, as Python's sorted")
    XCTAssertEqual(folder.count, 10)
    XCTAssertEqual(folder.labels, [0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    XCTAssert(folder.paths[9].hasSuffix("b_dog/n01_7.JPEG"))
    XCTAssertEqual(folder.paths.prefix(3).map { ($0 as NSString).lastPathComponent }, ["0.png", "1.jpg", "2.png"])
    XCTAssertEqual(folder.imageShape, [3, 8, 8])

    // train/ and val/ sub-folders.
    let split = try makeTemporaryDirectory(self)
    try writeImageFolder(at: split.appendingPathComponent("train"), classes: ["x", "y"], imagesPerClass: 2, size: 8)
    try writeImageFolder(at: split.appendingPathComponent("val"), classes: ["x", "y"], imagesPerClass: 1, size: 8)
    XCTAssertEqual(try ImageFolder.load(.train, from: split, transform: .training(size: 8)).count, 4)
    XCTAssertEqual(try ImageFolder.load(.test, from: split, transform: .evaluation(size: 8)).count, 2)
    XCTAssertEqual(try ImageFolder.load(.train, from: root, transform: .training(size: 8)).count, 10)
    XCTAssertThrowsError(try ImageFolder.load(.test, from: root, transform: .evaluation(size: 8))) {
      XCTAssert("\($0)".hasPrefix(root.appendingPathComponent("val").path), "\($0)")
    }
  }

  func testBadFoldersNameTheProblem() throws {
    let root = try makeTemporaryDirectory(self)
    let missing = root.appendingPathComponent("nowhere")
    XCTAssertThrowsError(try ImageFolder(directory: missing, transform: .training(size: 8))) {
      XCTAssertEqual($0 as? DatasetError, .missingFile(path: missing.path))
    }
    XCTAssertThrowsError(try ImageFolder(directory: root, transform: .training(size: 8))) {
      XCTAssertEqual("\($0)", "\(root.path): no class folders (expected <class>/<image> inside)")
    }
    try writeImageFolder(at: root, classes: ["a"], imagesPerClass: 1, size: 8)
    XCTAssertThrowsError(try ImageFolder(directory: root, transform: .training(size: 8))) {
      XCTAssertEqual("\($0)", "\(root.path): holds a single class folder (a): classification needs at least 2 classes")
    }
    let empty = root.appendingPathComponent("b")
    try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
    XCTAssertThrowsError(try ImageFolder(directory: root, transform: .training(size: 8))) {
      XCTAssertEqual("\($0)", "\(empty.path): class folder holds no .jpg, .jpeg or .png images")
    }
    let gif = empty.appendingPathComponent("x.GIF")
    try Data("GIF89a".utf8).write(to: gif)
    XCTAssertThrowsError(try ImageFolder(directory: root, transform: .training(size: 8))) {
      XCTAssertEqual("\($0)", "\(gif.path): unreadable image (unsupported format .gif: only JPEG and PNG are read)")
    }
  }

  /// A corrupt file inside a folder surfaces when its batch is assembled: `batch(at:)` throws
  /// and the loader stops with the error, naming the file.
  func testCorruptImageStopsBatchesWithItsPath() throws {
    let root = try makeTemporaryDirectory(self)
    try writeImageFolder(at: root, classes: ["a", "b"], imagesPerClass: 2, size: 8)
    let bad = root.appendingPathComponent("b/9.jpg")
    try Data(encodeJPEG([UInt8](repeating: 90, count: 8 * 8 * 3), width: 8, height: 8).prefix(40)).write(to: bad)
    let folder = try ImageFolder(directory: root, transform: .training(size: 8))
    let sampler = BatchSampler(images: folder, indices: 0..<folder.count, batchSize: 5, order: .sequential, seed: 1)
    XCTAssertThrowsError(try sampler.batch(at: BatchPosition(epoch: 0, step: 0), on: backend)) {
      XCTAssert("\($0)".hasPrefix("\(bad.path): unreadable image (JPEG: "), "\($0)")
    }
    let loader = BatchLoader(sampler: sampler, on: backend, endEpoch: 1)
    XCTAssertNil(loader.next())
    XCTAssert(loader.failure.map { "\($0)".hasPrefix(bad.path) } ?? false)
  }

  func testRandomResizedCropStaysInBoundsAndIsSeeded() {
    let transform = ImageTransform.training(size: 224)
    var fallbacks = 0
    for (height, width) in [(375, 500), (500, 333), (64, 64), (17, 300)] {
      var generator = SeededGenerator(seed: 5)
      var again = SeededGenerator(seed: 5)
      for _ in 0..<300 {
        let crop = transform.randomCrop(height: height, width: width, using: &generator)
        XCTAssertEqual(crop, transform.randomCrop(height: height, width: width, using: &again))
        XCTAssert(crop.top >= 0 && crop.left >= 0 && crop.height > 0 && crop.width > 0, "\(crop)")
        XCTAssert(crop.top + crop.height <= height && crop.left + crop.width <= width, "\(crop)")
        let isFallback = (crop.height == height || crop.width == width)
          && crop.top == (height - crop.height) / 2 && crop.left == (width - crop.width) / 2
        if isFallback { fallbacks += 1; continue }
        // Area within scale and ratio within bounds up to the rounding of the sides.
        let area = Double(crop.height * crop.width) / Double(height * width)
        XCTAssert(area > 0.08 * 0.8 && area <= 1, "area \(area)")
        let ratio = Double(crop.width) / Double(crop.height)
        XCTAssert(ratio > 0.75 * 0.9 && ratio < 4.0 / 3 * 1.1, "ratio \(ratio)")
      }
    }
    XCTAssertGreaterThan(fallbacks, 0, "the 17×300 image needs the fallback")
    // A 1×100 image fits no crop: centre crop with the ratio clamped to 4/3 (1×1 here).
    var generator = SeededGenerator(seed: 1)
    XCTAssertEqual(transform.randomCrop(height: 1, width: 100, using: &generator),
                   ImageTransform.Crop(top: 0, left: 49, height: 1, width: 1))
    var tall = SeededGenerator(seed: 1)
    XCTAssertEqual(transform.randomCrop(height: 100, width: 2, using: &tall),
                   ImageTransform.Crop(top: 48, left: 0, height: 3, width: 2), "h = round(2 / (3/4)) = 3, top (100 − 3) // 2")
  }

  /// Pixel value `v` of channel `c` after ImageNet normalisation.
  func normalized(_ v: Float, _ c: Int) -> Float {
    (v / 255 - Normalization.imageNet.mean[c]) / Normalization.imageNet.std[c]
  }

  func render(_ transform: ImageTransform, _ image: RGBImage, seed: UInt64 = 0) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    let size = transform.size
    return [Float](unsafeUninitializedCapacity: 3 * size * size) { buffer, count in
      transform.render(image, using: &generator, into: buffer.baseAddress!)
      count = 3 * size * size
    }
  }

  func image(height: Int, width: Int) -> RGBImage {
    RGBImage(width: width, height: height, pixels: (0..<(height * width * 3)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) })
  }

  /// Evaluation at size 7: shorter side to round(7·256/224) = 8, centre crop 7.
  func testEvaluationTransformIsExact() {
    let transform = ImageTransform.evaluation(size: 7)
    XCTAssertEqual(transform.resizeSide, 8)
    XCTAssertEqual(ImageTransform.evaluation(size: 224).resizeSide, 256)
    // 8×12: no resize; crop rows round(0.5) = 0 (ties to even, as Python) …, columns round(2.5) = 2 ….
    let source = image(height: 8, width: 12)
    let out = render(transform, source)
    for c in 0..<3 {
      for y in 0..<7 {
        for x in 0..<7 {
          let expected = normalized(Float(source.pixels[(y * 12 + x + 2) * 3 + c]), c)
          XCTAssertEqual(out[(c * 7 + y) * 7 + x], expected, accuracy: 1e-5)
        }
      }
    }
    // 16×24 → 8×12 halves: away from the edges each output pixel is the [1, 3, 3, 1]/8 filter
    // along each axis (the triangle filter stretched by 2).
    let large = image(height: 16, width: 24)
    let halved = render(transform, large)
    let kernel: [Float] = [1, 3, 3, 1].map { $0 / 8 }
    for c in 0..<3 {
      for y in 1..<7 {
        for x in 0..<7 {
          let (sy, sx) = (2 * y - 1, 2 * (x + 2) - 1)
          var sum: Float = 0
          for i in 0..<4 {
            for j in 0..<4 { sum += kernel[i] * kernel[j] * Float(large.pixels[((sy + i) * 24 + sx + j) * 3 + c]) }
          }
          XCTAssertEqual(halved[(c * 7 + y) * 7 + x], normalized(sum, c), accuracy: 1e-4)
        }
      }
    }
  }

  /// Crops and evaluation crops against PyTorch's antialiased bilinear `interpolate`
  /// (`Scripts/fixtures/generate_engine_fixtures.py`, `resize.json`).
  func testResamplingMatchesPyTorch() throws {
    let fixture = try Fixture("resize", in: .module).root
    let imageData = fixture.object("image").ints("data")
    let source = RGBImage(width: 31, height: 23, pixels: imageData.map(UInt8.init))
    for c in fixture.objects("crops") {
      let size = Int(c.number("size"))
      let crop = ImageTransform.Crop(top: Int(c.number("top")), left: Int(c.number("left")), height: Int(c.number("height")), width: Int(c.number("width")))
      let out = [Float](unsafeUninitializedCapacity: 3 * size * size) { buffer, count in
        ImageTransform.training(size: size).render(source, crop: crop, flip: c["flip"] as! Bool, into: buffer.baseAddress!)
        count = 3 * size * size
      }
      assertClose(out, c.object("output").floats("data"), "\(crop)")
    }
    for e in fixture.objects("evaluations") {
      let size = Int(e.number("size"))
      assertClose(render(.evaluation(size: size), source), e.object("output").floats("data"), "evaluation \(size)")
    }
  }

  func assertClose(_ a: [Float], _ b: [Float], _ message: String, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, line: line)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThan(worst, 1e-4, message, line: line)
  }

  /// With the whole image as the only possible crop at its own size, training is the
  /// identity (then mirrored when flipped).
  func testTrainingTransformOnAWholeImageCropIsExact() {
    var transform = ImageTransform.training(size: 6)
    transform.scale = 1...1
    transform.ratio = 1...1
    let source = image(height: 6, width: 6)
    transform.flipProbability = 0
    let plain = render(transform, source)
    transform.flipProbability = 1
    let flipped = render(transform, source)
    for c in 0..<3 {
      for y in 0..<6 {
        for x in 0..<6 {
          XCTAssertEqual(plain[(c * 6 + y) * 6 + x], normalized(Float(source.pixels[(y * 6 + x) * 3 + c]), c), accuracy: 1e-5)
          XCTAssertEqual(flipped[(c * 6 + y) * 6 + x], normalized(Float(source.pixels[(y * 6 + 5 - x) * 3 + c]), c), accuracy: 1e-5)
        }
      }
    }
  }

  func testPerClassSplitIsDisjointSeededAndProportional() {
    let counts = [1300, 732, 40, 2, 1]
    let labels = counts.enumerated().flatMap { Array(repeating: $0.offset, count: $0.element) }
    let split = ClassSplit(labels: labels, classCount: counts.count, weightFraction: 0.1, architectureFraction: 0.025, seed: 3)
    XCTAssertEqual(split, ClassSplit(labels: labels, classCount: counts.count, weightFraction: 0.1, architectureFraction: 0.025, seed: 3))
    XCTAssertNotEqual(split, ClassSplit(labels: labels, classCount: counts.count, weightFraction: 0.1, architectureFraction: 0.025, seed: 4))
    XCTAssert(Set(split.weights).isDisjoint(with: split.architecture))
    XCTAssertEqual(split.weights, split.weights.sorted())
    func perClass(_ indices: [Int]) -> [Int] { (0..<counts.count).map { c in indices.filter { labels[$0] == c }.count } }
    XCTAssertEqual(perClass(split.weights), [130, 73, 4, 1, 1])
    XCTAssertEqual(perClass(split.architecture), [32, 18, 1, 1, 0])
    // Not simply the first images of each class.
    XCTAssertNotEqual(split.weights.prefix(130).map { $0 }, Array(0..<130))
  }

  /// Batches of an image folder: shape, labels, values of the evaluation transform, bit-identical
  /// for a position whatever came before.
  func testImageFolderBatches() throws {
    let root = try makeTemporaryDirectory(self)
    try writeImageFolder(at: root, classes: ["a", "b", "c"], imagesPerClass: 4, size: 20)
    let folder = try ImageFolder(directory: root, transform: .training(size: 16))
    let sampler = BatchSampler(images: folder, indices: 0..<folder.count, batchSize: 5, order: .epochPermutation, seed: 9)
    let position = BatchPosition(epoch: 2, step: 1)
    let batch = try sampler.batch(at: position, on: backend)
    XCTAssertEqual(batch.images.shape, [5, 3, 16, 16])
    XCTAssertEqual(batch.labels, batch.indices.map { $0 / 4 })
    _ = try sampler.batch(at: BatchPosition(epoch: 0, step: 0), on: backend)
    XCTAssertEqual(try sampler.batch(at: position, on: backend).images.scalars, batch.images.scalars)
    let loaded = Array(BatchLoader(sampler: sampler, on: backend, start: position, endEpoch: 3))
    XCTAssertEqual(loaded.first?.images.scalars, batch.images.scalars)

    let evaluation = BatchSampler(images: folder.with(.evaluation(size: 16)), indices: 0..<folder.count, batchSize: 12, order: .sequential, seed: 9)
    let all = try evaluation.batch(at: BatchPosition(epoch: 0, step: 0), on: backend)
    let first = try ImageDecoder.decode(contentsOf: URL(fileURLWithPath: folder.paths[0]))
    var generator = SeededGenerator(seed: 0)
    let expected = [Float](unsafeUninitializedCapacity: 3 * 16 * 16) { buffer, count in
      ImageTransform.evaluation(size: 16).render(first, using: &generator, into: buffer.baseAddress!)
      count = 3 * 16 * 16
    }
    XCTAssertEqual(Array(all.images.scalars.prefix(3 * 16 * 16)), expected)
  }
}

/// torchvision's ColorJitter on constructed pixels.
final class ColorJitterTests: XCTestCase {
  /// Applies `draw` to pixels given as (r, g, b) triples.
  func jitter(_ draw: ColorJitter.Draw, _ pixels: [(Float, Float, Float)]) -> [[Float]] {
    var planes = pixels.map(\.0) + pixels.map(\.1) + pixels.map(\.2)
    planes.withUnsafeMutableBufferPointer { ColorJitter.imageNet.apply(draw, to: $0.baseAddress!, pixels: pixels.count) }
    return (0..<pixels.count).map { [planes[$0], planes[pixels.count + $0], planes[2 * pixels.count + $0]] }
  }

  func only(_ adjustment: ColorJitter.Adjustment, _ factor: Float) -> ColorJitter.Draw {
    ColorJitter.Draw(
      order: [.hue, .saturation, .contrast, .brightness], brightness: adjustment == .brightness ? factor : nil,
      contrast: adjustment == .contrast ? factor : nil, saturation: adjustment == .saturation ? factor : nil,
      hue: adjustment == .hue ? factor : nil)
  }

  func assertClose(_ a: [[Float]], _ b: [[Float]], line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, line: line)
    for (x, y) in zip(a.joined(), b.joined()) { XCTAssertEqual(x, y, accuracy: 1e-6, line: line) }
  }

  func testEachAdjustment() {
    let pixels: [(Float, Float, Float)] = [(1, 0, 0), (0.2, 0.4, 0.6), (0.9, 0.9, 0.9)]
    assertClose(jitter(only(.brightness, 0.5), pixels), [[0.5, 0, 0], [0.1, 0.2, 0.3], [0.45, 0.45, 0.45]])
    assertClose(jitter(only(.brightness, 1.2), pixels), [[1, 0, 0], [0.24, 0.48, 0.72], [1, 1, 1]])
    let grays = pixels.map { 0.2989 * $0.0 + 0.587 * $0.1 + 0.114 * $0.2 }
    assertClose(jitter(only(.saturation, 0), pixels), grays.map { [$0, $0, $0] })
    let mean = grays.reduce(0, +) / 3
    assertClose(jitter(only(.contrast, 0), pixels), Array(repeating: [mean, mean, mean], count: 3))
    // A third of the hue circle: red → green, and the other colour rotates its channels.
    assertClose(jitter(only(.hue, 1.0 / 3), pixels), [[0, 1, 0], [0.6, 0.2, 0.4], [0.9, 0.9, 0.9]])
    assertClose(jitter(only(.hue, -1.0 / 3), [(1, 0, 0)]), [[0, 0, 1]])
  }

  func testDrawsAreInRangeAndSeeded() {
    var generator = SeededGenerator(seed: 4)
    var again = SeededGenerator(seed: 4)
    var orders = Set<[Int]>()
    for _ in 0..<200 {
      let draw = ColorJitter.imageNet.draw(using: &generator)
      XCTAssertEqual(draw, ColorJitter.imageNet.draw(using: &again))
      XCTAssertEqual(Set(draw.order.map(\.rawValue)), [0, 1, 2, 3])
      orders.insert(draw.order.map(\.rawValue))
      for f in [draw.brightness!, draw.contrast!, draw.saturation!] { XCTAssert((0.6...1.4).contains(f), "\(f)") }
      XCTAssert((-0.2...0.2).contains(draw.hue!))
    }
    XCTAssertGreaterThan(orders.count, 12)
    XCTAssertEqual(ColorJitter(brightness: 0.4).draw(using: &generator).contrast, nil)
  }
}
