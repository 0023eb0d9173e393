import CPUKernels
import XCTest
import _TestSupport

/// The fast convolutions, called through the `Convolution` dispatcher, against
/// `ReferenceConvolution` on 1, 2 and 3 threads.
final class ConvolutionTests: XCTestCase {
  private func check(
    _ g: ConvolutionGeometry, file: StaticString = #filePath, line: UInt = #line
  ) {
    let input = randomArray(g.inputCount, seed: 11)
    let weight = randomArray(g.weightCount, seed: 12)
    let gradOutput = randomArray(g.outputCount, seed: 13)
    var output = [Float](repeating: 0, count: g.outputCount)
    var gradInput = [Float](repeating: 0, count: g.inputCount)
    var gradWeight = [Float](repeating: 0, count: g.weightCount)
    ReferenceConvolution.forward(g, input: input, weight: weight, output: &output)
    ReferenceConvolution.backwardInput(
      g, gradOutput: gradOutput, weight: weight, gradInput: &gradInput)
    ReferenceConvolution.backwardWeight(
      g, input: input, gradOutput: gradOutput, gradWeight: &gradWeight)
    for threads in [1, 2, 3] {
      let pool = WorkerPool(threadCount: threads)
      // Stale values in the outputs must be overwritten.
      var actual = [Float](repeating: 7, count: g.outputCount)
      Convolution.forward(g, input: input, weight: weight, output: &actual, pool: pool)
      assertClose(
        actual, output, rtol: 1e-4, atol: 1e-4, "forward \(g) threads \(threads)",
        file: file, line: line)
      actual = [Float](repeating: 7, count: g.inputCount)
      Convolution.backwardInput(
        g, gradOutput: gradOutput, weight: weight, gradInput: &actual, pool: pool)
      assertClose(
        actual, gradInput, rtol: 1e-4, atol: 1e-4, "backwardInput \(g) threads \(threads)",
        file: file, line: line)
      actual = [Float](repeating: 7, count: g.weightCount)
      Convolution.backwardWeight(
        g, input: input, gradOutput: gradOutput, gradWeight: &actual, pool: pool)
      assertClose(
        actual, gradWeight, rtol: 1e-4, atol: 1e-4, "backwardWeight \(g) threads \(threads)",
        file: file, line: line)
    }
    if Convolution.fusesRectification(g) { checkRectified(g, input: input, weight: weight, gradOutput: gradOutput, file: file, line: line) }
  }

  /// The fused ReLU: forward and weight gradient of `max(input, 0)`.
  private func checkRectified(
    _ g: ConvolutionGeometry, input: [Float], weight: [Float], gradOutput: [Float], file: StaticString, line: UInt
  ) {
    let rectified = input.map { max($0, 0) }
    var output = [Float](repeating: 0, count: g.outputCount)
    var gradWeight = [Float](repeating: 0, count: g.weightCount)
    ReferenceConvolution.forward(g, input: rectified, weight: weight, output: &output)
    ReferenceConvolution.backwardWeight(g, input: rectified, gradOutput: gradOutput, gradWeight: &gradWeight)
    for threads in [1, 2, 3] {
      let pool = WorkerPool(threadCount: threads)
      var actual = [Float](repeating: 7, count: g.outputCount)
      Convolution.forward(g, input: input, weight: weight, output: &actual, pool: pool, rectifiedInput: true)
      assertClose(actual, output, rtol: 1e-4, atol: 1e-4, "rectified forward \(g) threads \(threads)", file: file, line: line)
      actual = [Float](repeating: 7, count: g.weightCount)
      Convolution.backwardWeight(g, input: input, gradOutput: gradOutput, gradWeight: &actual, pool: pool, rectifiedInput: true)
      assertClose(actual, gradWeight, rtol: 1e-4, atol: 1e-4, "rectified backwardWeight \(g) threads \(threads)", file: file, line: line)
    }
  }

  private func geometry(
    batch: Int, _ inChannels: Int, _ outChannels: Int, _ height: Int, _ width: Int,
    kernel: (Int, Int), stride: (Int, Int) = (1, 1), pad: (Int, Int) = (0, 0),
    dilation: (Int, Int) = (1, 1), groups: Int = 1
  ) -> ConvolutionGeometry {
    ConvolutionGeometry(
      batch: batch, inChannels: inChannels, outChannels: outChannels, inHeight: height,
      inWidth: width, kernelHeight: kernel.0, kernelWidth: kernel.1, strideHeight: stride.0,
      strideWidth: stride.1, padHeight: pad.0, padWidth: pad.1, dilationHeight: dilation.0,
      dilationWidth: dilation.1, groups: groups)
  }

  func testPointwiseStrideOne() {
    check(geometry(batch: 2, 5, 7, 6, 5, kernel: (1, 1)))
    check(geometry(batch: 3, 19, 17, 9, 11, kernel: (1, 1)))
    check(geometry(batch: 1, 1, 1, 1, 1, kernel: (1, 1)))
    check(geometry(batch: 2, 16, 16, 8, 8, kernel: (1, 1)))
  }

  /// Contractions of at most eight channels run as direct loops (64-pixel blocks, then a
  /// tail): forward, input gradient, or both.
  func testPointwiseShallow() {
    check(geometry(batch: 3, 4, 4, 12, 12, kernel: (1, 1)))
    check(geometry(batch: 2, 8, 5, 9, 9, kernel: (1, 1)))
    check(geometry(batch: 2, 3, 12, 8, 16, kernel: (1, 1)))
    check(geometry(batch: 2, 12, 3, 8, 16, kernel: (1, 1)))
    check(geometry(batch: 2, 8, 4, 32, 31, kernel: (1, 1), stride: (2, 2)))
  }

  /// The weight gradient's dot-product tiles (6 rows of one operand × 4 of the other): the
  /// output gradient on the 6-row side (fewer padded rows, or ties and as many or fewer
  /// channels), the input there (fewer padded rows, or fewer rows read: 144→36 on 8×8 planes),
  /// rectified input on either side, padded rows on both, image groups of at least 2048 pixels
  /// with a partial last group, several blocks of the 4-row side's channels (also the input's,
  /// 288→72 on 16×16 planes), pixel chunks of 1024 within an image and of up to 8 whole images,
  /// and pixel tails.
  func testPointwiseWeightGradientTiles() {
    check(geometry(batch: 5, 12, 18, 6, 7, kernel: (1, 1)))
    check(geometry(batch: 3, 18, 8, 9, 8, kernel: (1, 1)))
    check(geometry(batch: 2, 7, 11, 5, 3, kernel: (1, 1)))
    check(geometry(batch: 40, 132, 132, 8, 8, kernel: (1, 1)))
    check(geometry(batch: 3, 9, 6, 33, 35, kernel: (1, 1)))
    check(geometry(batch: 19, 6, 10, 3, 3, kernel: (1, 1)))
    check(geometry(batch: 4, 24, 12, 17, 17, kernel: (1, 1), stride: (2, 2)))
    check(geometry(batch: 33, 144, 36, 8, 8, kernel: (1, 1)))
    check(geometry(batch: 9, 288, 72, 16, 16, kernel: (1, 1)))
  }

  /// Both weight-gradient strategies, the dot-product tiles (16-float registers) and the
  /// per-image GEMMs (8-float registers), whichever this CPU has, match the reference on
  /// plain and rectified input, with the same bits on 1 and 3 threads.
  func testPointwiseWeightGradientStrategiesForBothRegisterWidths() {
    let geometries = [
      geometry(batch: 5, 12, 18, 6, 7, kernel: (1, 1)), geometry(batch: 19, 6, 10, 3, 3, kernel: (1, 1)),
      geometry(batch: 4, 24, 12, 17, 17, kernel: (1, 1), stride: (2, 2)), geometry(batch: 9, 288, 72, 16, 16, kernel: (1, 1)),
    ]
    for g in geometries {
      let input = randomArray(g.inputCount, seed: 31)
      let gradOutput = randomArray(g.outputCount, seed: 32)
      for rectified in [false, true] {
        var expected = [Float](repeating: .nan, count: g.weightCount)
        ReferenceConvolution.backwardWeight(
          g, input: rectified ? input.map { max($0, 0) } : input, gradOutput: gradOutput, gradWeight: &expected)
        for wide in [false, true] {
          let results = [1, 3].map { threads in
            var gradWeight = [Float](repeating: .nan, count: g.weightCount)
            PointwiseConvolution.backwardWeight(
              g, input: input, gradOutput: gradOutput, gradWeight: &gradWeight, pool: WorkerPool(threadCount: threads),
              rectifiedInput: rectified, wideRegisters: wide)
            return gradWeight
          }
          assertClose(results[0], expected, rtol: 1e-4, atol: 1e-4, "\(g) rectified \(rectified) wide \(wide)")
          XCTAssertEqual(results[0], results[1], "\(g) rectified \(rectified) wide \(wide): 1 vs 3 threads")
        }
      }
    }
  }

  /// The weight gradient's partial sums belong to image groups, not threads: every thread
  /// count gives the same bits.
  func testPointwiseWeightGradientIsDeterministic() {
    for g in [geometry(batch: 70, 36, 24, 8, 8, kernel: (1, 1)), geometry(batch: 9, 288, 72, 16, 16, kernel: (1, 1))] {
      checkDeterministicWeightGradient(g)
    }
  }

  private func checkDeterministicWeightGradient(_ g: ConvolutionGeometry) {
    let input = randomArray(g.inputCount, seed: 21)
    let gradOutput = randomArray(g.outputCount, seed: 22)
    let results = [1, 2, 3].map { threads in
      var gradWeight = [Float](repeating: 0, count: g.weightCount)
      Convolution.backwardWeight(
        g, input: input, gradOutput: gradOutput, gradWeight: &gradWeight, pool: WorkerPool(threadCount: threads),
        rectifiedInput: true)
      return gradWeight
    }
    XCTAssertEqual(results[0], results[1])
    XCTAssertEqual(results[0], results[2])
  }

  func testPointwiseStrided() {
    check(geometry(batch: 1, 6, 3, 7, 9, kernel: (1, 1), stride: (2, 2)))
    check(geometry(batch: 3, 8, 10, 8, 8, kernel: (1, 1), stride: (2, 2)))
    check(geometry(batch: 2, 5, 4, 5, 6, kernel: (1, 1), stride: (2, 1)))
  }

  func testDenseStems() {
    check(geometry(batch: 2, 3, 8, 9, 9, kernel: (3, 3), pad: (1, 1)))
    check(geometry(batch: 1, 3, 10, 10, 7, kernel: (3, 3), stride: (2, 2), pad: (1, 1)))
    // 2·16·16 = 512 output pixels: the weight gradient splits its reduction across threads.
    check(geometry(batch: 2, 3, 5, 16, 16, kernel: (3, 3), pad: (1, 1)))
  }

  func testTwoByTwoOnTinyInput() {
    check(geometry(batch: 3, 12, 20, 2, 2, kernel: (2, 2)))
  }

  func testOneBySevenAndSevenByOne() {
    check(geometry(batch: 2, 6, 6, 9, 9, kernel: (1, 7), stride: (1, 2), pad: (0, 3)))
    check(geometry(batch: 2, 6, 6, 9, 9, kernel: (7, 1), stride: (2, 1), pad: (3, 0)))
  }

  func testGrouped() {
    check(geometry(batch: 2, 6, 4, 7, 7, kernel: (3, 3), pad: (1, 1), groups: 2))
    check(geometry(batch: 1, 6, 9, 8, 7, kernel: (3, 3), stride: (2, 2), pad: (1, 1), groups: 3))
  }

  func testAsymmetricPaddingDilationAndDeepPatches() {
    check(geometry(batch: 2, 3, 5, 6, 8, kernel: (3, 3), pad: (2, 0)))
    check(geometry(batch: 2, 4, 5, 8, 8, kernel: (3, 3), pad: (2, 2), dilation: (2, 2)))
    check(geometry(batch: 1, 4, 3, 5, 5, kernel: (1, 1), pad: (1, 1)))
    // 32·3·3 = 288 patch elements: more than one GEMM depth block.
    check(geometry(batch: 1, 32, 9, 5, 5, kernel: (3, 3), pad: (1, 1)))
  }
}
