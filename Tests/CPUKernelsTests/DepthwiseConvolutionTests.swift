import CPUKernels
import XCTest
import _TestSupport

/// Depthwise convolutions through the public `Convolution` dispatcher against
/// `ReferenceConvolution`, on one and two threads.
final class DepthwiseConvolutionTests: XCTestCase {
  /// (batch, channels, height, width, kernel, stride, padding, dilation).
  static let cases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (2, 3, 13, 13, 3, 1, 1, 1),  // sep 3×3
    (1, 5, 17, 17, 3, 2, 1, 1),  // sep 3×3, stride 2 on an odd size
    (2, 4, 7, 7, 5, 1, 2, 1),  // sep 5×5
    (1, 3, 33, 33, 5, 2, 2, 1),
    (2, 3, 8, 8, 3, 1, 2, 2),  // dil 3×3
    (1, 3, 14, 14, 5, 2, 4, 2),  // dil 5×5, stride 2
    (2, 5, 16, 16, 5, 1, 4, 2),
    (1, 2, 32, 32, 3, 1, 1, 1),
    (1, 2, 9, 9, 7, 1, 3, 1),  // 7×7
    (1, 2, 11, 11, 3, 2, 0, 1),  // no padding
    (1, 3, 3, 3, 3, 2, 1, 1),  // 2×2 output
    (1, 2, 10, 10, 3, 3, 1, 1),  // stride 3 (scalar buffer copies)
    (1, 2, 6, 6, 3, 1, 3, 1),  // padding wider than the kernel's reach
    (3, 7, 32, 32, 3, 1, 1, 1),  // several images per channel chunk
    (2, 9, 8, 8, 5, 1, 2, 1),  // sep 5×5 on 8×8 planes
    (2, 6, 16, 16, 5, 2, 4, 2),  // dil 5×5, stride 2 on 16×16
    (2, 3, 21, 21, 3, 1, 2, 2),  // dil 3×3, odd width over one whole vector (masked last one)
    (2, 3, 5, 5, 3, 1, 1, 1),  // 4-lane rows with a masked last vector
    (2, 3, 2, 3, 3, 1, 1, 1),  // rows narrower than a vector (padded gradient copy)
    (1, 2, 4, 4, 3, 2, 1, 1),  // 2×2 output, stride 2
  ]

  /// `cases` as square depthwise geometries.
  static let geometries = cases.map { b, c, h, w, k, s, p, d in
    ConvolutionGeometry(
      batch: b, inChannels: c, outChannels: c, inHeight: h, inWidth: w, kernelHeight: k,
      kernelWidth: k, strideHeight: s, strideWidth: s, padHeight: p, padWidth: p,
      dilationHeight: d, dilationWidth: d, groups: c)
  }

  func testMatchesReference() {
    var geometries = Self.geometries
    // Non-square input, kernel, stride, padding and dilation.
    geometries.append(ConvolutionGeometry(
      batch: 2, inChannels: 3, outChannels: 3, inHeight: 12, inWidth: 19, kernelHeight: 3,
      kernelWidth: 5, strideHeight: 2, strideWidth: 1, padHeight: 1, padWidth: 4,
      dilationHeight: 1, dilationWidth: 2, groups: 3))
    for threads in [1, 2, 3] {
      let pool = WorkerPool(threadCount: threads)
      for (index, g) in geometries.enumerated() {
        check(g, pool: pool, seed: UInt64(index), "\(g) threads \(threads)")
      }
    }
  }

  private func check(_ g: ConvolutionGeometry, pool: WorkerPool, seed: UInt64, _ label: String) {
    XCTAssertTrue(g.isDepthwise)
    let input = randomArray(g.inputCount, seed: seed)
    let weight = randomArray(g.weightCount, seed: seed + 100)
    let gradOutput = randomArray(g.outputCount, seed: seed + 200)

    var output = [Float](repeating: .nan, count: g.outputCount)
    var expected = output
    Convolution.forward(g, input: input, weight: weight, output: &output, pool: pool)
    ReferenceConvolution.forward(g, input: input, weight: weight, output: &expected)
    assertClose(output, expected, rtol: 1e-4, atol: 1e-5, "forward \(label)")

    var gradInput = [Float](repeating: .nan, count: g.inputCount)
    var expectedGradInput = gradInput
    Convolution.backwardInput(
      g, gradOutput: gradOutput, weight: weight, gradInput: &gradInput, pool: pool)
    ReferenceConvolution.backwardInput(
      g, gradOutput: gradOutput, weight: weight, gradInput: &expectedGradInput)
    assertClose(gradInput, expectedGradInput, rtol: 1e-4, atol: 1e-5, "backwardInput \(label)")

    var gradWeight = [Float](repeating: .nan, count: g.weightCount)
    var expectedGradWeight = gradWeight
    Convolution.backwardWeight(
      g, input: input, gradOutput: gradOutput, gradWeight: &gradWeight, pool: pool)
    ReferenceConvolution.backwardWeight(
      g, input: input, gradOutput: gradOutput, gradWeight: &expectedGradWeight)
    assertClose(gradWeight, expectedGradWeight, rtol: 1e-4, atol: 1e-4, "backwardWeight \(label)")
  }

  /// The fused input ReLU equals the reference on `max(x, 0)`, and its input gradient is the
  /// reference gradient masked where `x ≤ 0`.
  func testRectifiedInputMatchesReferenceOnReLU() {
    for threads in [1, 3] {
      let pool = WorkerPool(threadCount: threads)
      for (index, g) in Self.geometries.enumerated() {
        let input = randomArray(g.inputCount, seed: UInt64(index))
        let rectified = input.map { max($0, 0) }
        let weight = randomArray(g.weightCount, seed: 7)
        let gradOutput = randomArray(g.outputCount, seed: 8)
        var output = [Float](repeating: .nan, count: g.outputCount)
        var expected = output
        DepthwiseConvolution.forward(g, input: input, weight: weight, output: &output, pool: pool, rectifiedInput: true)
        ReferenceConvolution.forward(g, input: rectified, weight: weight, output: &expected)
        assertClose(output, expected, rtol: 1e-4, atol: 1e-5, "forward \(g)")

        var gradInput = [Float](repeating: .nan, count: g.inputCount)
        var expectedGradInput = gradInput
        DepthwiseConvolution.backwardInput(g, gradOutput: gradOutput, weight: weight, gradInput: &gradInput, pool: pool, rectifiedInput: input)
        ReferenceConvolution.backwardInput(g, gradOutput: gradOutput, weight: weight, gradInput: &expectedGradInput)
        for i in expectedGradInput.indices where input[i] <= 0 { expectedGradInput[i] = 0 }
        assertClose(gradInput, expectedGradInput, rtol: 1e-4, atol: 1e-5, "backward input \(g)")

        var gradWeight = [Float](repeating: .nan, count: g.weightCount)
        var expectedGradWeight = gradWeight
        DepthwiseConvolution.backwardWeight(g, input: input, gradOutput: gradOutput, gradWeight: &gradWeight, pool: pool, rectifiedInput: true)
        ReferenceConvolution.backwardWeight(g, input: rectified, gradOutput: gradOutput, gradWeight: &expectedGradWeight)
        assertClose(gradWeight, expectedGradWeight, rtol: 1e-4, atol: 1e-4, "backward weight \(g)")
      }
    }
  }

  /// A per-channel map fused into the input read (a batch normalisation's output rebuilt as it
  /// is read) gives exactly what the same kernels give on the mapped values formed by
  /// `BatchNormKernels.channelAffine`, with and without the ReLU after it; the input gradient's
  /// ReLU gate is the mapped value.
  func testChannelAffineInputEqualsTheKernelsOnTheMappedValues() {
    for threads in [1, 3] {
      let pool = WorkerPool(threadCount: threads)
      for (index, g) in Self.geometries.enumerated() {
        let spatial = g.inHeight * g.inWidth
        let input = randomArray(g.inputCount, seed: UInt64(index) + 300)
        // Maps that keep both signs in every channel, so the ReLU gate opens and closes.
        let scale = randomArray(g.inChannels, seed: UInt64(index) + 400, low: 0.5, high: 1.5)
        let shift = randomArray(g.inChannels, seed: UInt64(index) + 500, low: -0.4, high: 0.4)
        var mapped = [Float](repeating: .nan, count: g.inputCount)
        BatchNormKernels.channelAffine(
          input: input, scale: scale, shift: shift, output: &mapped, batch: g.batch, channels: g.inChannels,
          spatial: spatial, pool: pool)
        let weight = randomArray(g.weightCount, seed: 9)
        let gradOutput = randomArray(g.outputCount, seed: 10)
        // The three passes on `values`, read through `affine` (the gate too when rectified).
        func passes(_ values: [Float], _ affine: ChannelAffineRead?, rectified: Bool) -> [[Float]] {
          var output = [Float](repeating: .nan, count: g.outputCount)
          var gradWeight = [Float](repeating: .nan, count: g.weightCount)
          var gradInput = [Float](repeating: .nan, count: g.inputCount)
          DepthwiseConvolution.forward(
            g, input: values, weight: weight, output: &output, pool: pool, rectifiedInput: rectified, inputAffine: affine)
          DepthwiseConvolution.backwardWeight(
            g, input: values, gradOutput: gradOutput, gradWeight: &gradWeight, pool: pool, rectifiedInput: rectified,
            inputAffine: affine)
          DepthwiseConvolution.backwardInput(
            g, gradOutput: gradOutput, weight: weight, gradInput: &gradInput, pool: pool,
            rectifiedInput: rectified ? values : nil, inputAffine: affine)
          return [output, gradWeight, gradInput]
        }
        scale.withUnsafeBufferPointer { scale in
          shift.withUnsafeBufferPointer { shift in
            let affine = ChannelAffineRead(scale: scale.baseAddress!, shift: shift.baseAddress!)
            for rectified in [false, true] {
              let fused = passes(input, affine, rectified: rectified)
              let formed = passes(mapped, nil, rectified: rectified)
              for (pass, name) in ["forward", "backward weight", "backward input"].enumerated() {
                XCTAssertEqual(fused[pass], formed[pass], "\(name) \(g) rectified \(rectified) threads \(threads)")
              }
              if rectified {
                XCTAssertTrue(formed[2].contains(0) && mapped.contains { $0 > 0 }, "the gate closes somewhere and opens somewhere: \(g)")
              }
            }
          }
        }
      }
    }
  }

  /// The weight gradient sums over images in a fixed order within each channel: bit-identical
  /// on any thread count.
  func testWeightGradientIndependentOfThreadCount() {
    for (index, g) in Self.geometries.enumerated() {
      let input = randomArray(g.inputCount, seed: UInt64(index))
      let gradOutput = randomArray(g.outputCount, seed: UInt64(index) + 50)
      let results = [1, 2, 3].map { threads in
        var gradWeight = [Float](repeating: .nan, count: g.weightCount)
        DepthwiseConvolution.backwardWeight(
          g, input: input, gradOutput: gradOutput, gradWeight: &gradWeight,
          pool: WorkerPool(threadCount: threads), rectifiedInput: true)
        return gradWeight
      }
      XCTAssertEqual(results[0], results[1], "\(g) 1 vs 2 threads")
      XCTAssertEqual(results[0], results[2], "\(g) 1 vs 3 threads")
    }
  }
}
