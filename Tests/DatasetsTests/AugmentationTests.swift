import Datasets
import TensorCore
import XCTest
import _TestSupport

final class AugmentationTests: XCTestCase {
  /// One 4×4 greyscale image with pixel values 1…16 row by row; mean 0, std 1 so that an output
  /// value is exactly `pixel / 255`.
  private let grid = ImageDataset(
    pixels: (1...16).map(UInt8.init), labels: [0], channels: 1, height: 4, width: 4, classCount: 1,
    normalization: Normalization(mean: [0], std: [1]))

  private func scaled(_ rows: [[Int]]) -> [Float] { rows.joined().map { Float($0) / 255 } }

  func testCropShiftsTheZeroPaddedImage() {
    let augmentation = Augmentation(padding: 1, flipProbability: 0.5)
    // Window from padded row 0, column 2: source rows −1…2, columns 1…4.
    let draw = AugmentationDraw(cropTop: 0, cropLeft: 2, flip: false, cutoutCenter: nil)
    XCTAssertEqual(
      augmentation.apply(draw, toImage: 0, of: grid),
      scaled([[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0], [10, 11, 12, 0]]))
    let centred = AugmentationDraw(cropTop: 1, cropLeft: 1, flip: false, cutoutCenter: nil)
    XCTAssertEqual(augmentation.apply(centred, toImage: 0, of: grid), scaled([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]))
    let bottomLeft = AugmentationDraw(cropTop: 2, cropLeft: 0, flip: false, cutoutCenter: nil)
    XCTAssertEqual(
      augmentation.apply(bottomLeft, toImage: 0, of: grid),
      scaled([[0, 5, 6, 7], [0, 9, 10, 11], [0, 13, 14, 15], [0, 0, 0, 0]]))
  }

  func testFlipMirrorsTheCroppedImage() {
    let augmentation = Augmentation(padding: 1, flipProbability: 0.5)
    let flipOnly = AugmentationDraw(cropTop: 1, cropLeft: 1, flip: true, cutoutCenter: nil)
    XCTAssertEqual(
      augmentation.apply(flipOnly, toImage: 0, of: grid),
      scaled([[4, 3, 2, 1], [8, 7, 6, 5], [12, 11, 10, 9], [16, 15, 14, 13]]))
    let cropAndFlip = AugmentationDraw(cropTop: 0, cropLeft: 2, flip: true, cutoutCenter: nil)
    XCTAssertEqual(
      augmentation.apply(cropAndFlip, toImage: 0, of: grid),
      scaled([[0, 0, 0, 0], [0, 4, 3, 2], [0, 8, 7, 6], [0, 12, 11, 10]]))
  }

  func testCutoutZeroesAClippedSquareInEveryChannelAfterNormalisation() {
    // Two channels of 255 normalised to (1 − 0.5) / 0.25 = 2.
    let white = ImageDataset(
      pixels: [UInt8](repeating: 255, count: 32), labels: [0], channels: 2, height: 4, width: 4,
      classCount: 1, normalization: Normalization(mean: [0.5, 0.5], std: [0.25, 0.25]))
    func zeros(length: Int, center: (Int, Int)) -> Set<Int> {
      let augmentation = Augmentation(padding: 0, flipProbability: 0, cutoutLength: length)
      let draw = AugmentationDraw(cropTop: 0, cropLeft: 0, flip: false, cutoutCenter: center)
      let values = augmentation.apply(draw, toImage: 0, of: white)
      XCTAssertTrue(values.allSatisfy { $0 == 0 || $0 == 2 }, "\(values)")
      XCTAssertEqual(values[0..<16].map { $0 == 0 }, values[16..<32].map { $0 == 0 }, "channels differ")
      return Set(values[0..<16].indices.filter { values[$0] == 0 })
    }
    // Length 2 at row 0, column 3: rows 0..<1, columns 2..<4 (clipped at the top and right).
    XCTAssertEqual(zeros(length: 2, center: (0, 3)), [2, 3])
    // Length 3 at (2, 2): rows 1..<4, columns 1..<4.
    XCTAssertEqual(zeros(length: 3, center: (2, 2)), [5, 6, 7, 9, 10, 11, 13, 14, 15])
    // Longer than the image: everything.
    XCTAssertEqual(zeros(length: 16, center: (1, 1)), Set(0..<16))
  }

  func testEvaluationTransformScalesAndNormalises() {
    let pixels = (0..<(3 * 32 * 32)).map { UInt8(truncatingIfNeeded: $0 * 13) }
    let image = ImageDataset(
      pixels: pixels, labels: [3], channels: 3, height: 32, width: 32, classCount: 10,
      normalization: .cifar10)
    var generator = SeededGenerator(seed: 5)
    let before = generator
    let draw = Augmentation.evaluation.draw(height: 32, width: 32, using: &generator)
    XCTAssertEqual(generator, before, "the evaluation transform consumed random numbers")
    let expected = pixels.indices.map { i -> Float in
      let c = i / 1024
      return (Float(pixels[i]) / 255 - Normalization.cifar10.mean[c]) / Normalization.cifar10.std[c]
    }
    assertClose(Augmentation.evaluation.apply(draw, toImage: 0, of: image), expected, rtol: 0, atol: 1e-6)
    // Spot values: pixel 0 in channel 0 is −mean/std; 255 in channel 2 is (1 − mean)/std.
    XCTAssertEqual(expected[0], -0.49139968 / 0.24703233, accuracy: 1e-6)
  }

  func testDrawsCoverTheirRanges() {
    let augmentation = Augmentation(padding: 4, flipProbability: 0.5, cutoutLength: 16)
    var generator = SeededGenerator(seed: 11)
    var tops = Set<Int>(), lefts = Set<Int>(), rows = Set<Int>(), columns = Set<Int>()
    var flips = 0
    let draws = 4000
    for _ in 0..<draws {
      let draw = augmentation.draw(height: 32, width: 32, using: &generator)
      tops.insert(draw.cropTop)
      lefts.insert(draw.cropLeft)
      flips += draw.flip ? 1 : 0
      rows.insert(draw.cutoutCenter!.row)
      columns.insert(draw.cutoutCenter!.column)
    }
    XCTAssertEqual(tops, Set(0...8))
    XCTAssertEqual(lefts, Set(0...8))
    XCTAssertEqual(rows, Set(0..<32))
    XCTAssertEqual(columns, Set(0..<32))
    XCTAssertEqual(Double(flips) / Double(draws), 0.5, accuracy: 0.04)
    let noFlip = Augmentation(padding: 4, flipProbability: 0)
    XCTAssertFalse((0..<100).contains { _ in noFlip.draw(height: 32, width: 32, using: &generator).flip })
  }
}
