import CPUKernels
import XCTest
import _TestSupport

/// `BatchNormKernels` against `ReferenceBatchNorm`, on one and two threads.
final class BatchNormKernelsTests: XCTestCase {
  /// (batch, channels, spatial): small planes, work items of several images with a shorter last
  /// one (7 × 16 × 32²), and planes past one item's 64 Ki elements (split by channel).
  static let shapes = [(2, 3, 13 * 13), (1, 5, 7 * 7), (3, 4, 17), (2, 16, 32 * 32), (1, 1, 1), (7, 16, 32 * 32), (2, 3, 70001), (9, 64, 8 * 8)]

  /// Uniform data with the given mean and standard deviation.
  private func data(_ count: Int, seed: UInt64, mean: Float, std: Float) -> [Float] {
    let halfWidth = std * Float(3).squareRoot()
    return randomArray(count, seed: seed, low: mean - halfWidth, high: mean + halfWidth)
  }

  func testStatisticsMatchReference() {
    for threads in [1, 2] {
      let pool = WorkerPool(threadCount: threads)
      for (index, (batch, channels, spatial)) in Self.shapes.enumerated() {
        // Centred data, and data far from zero (mean 3, std 0.5).
        for (mu, sigma) in [(Float(0), Float(0.6)), (3, 0.5)] {
          let label = "\(batch)x\(channels)x\(spatial) mean \(mu) threads \(threads)"
          let input = data(batch * channels * spatial, seed: UInt64(index), mean: mu, std: sigma)
          var (mean, variance) = ([Float](repeating: .nan, count: channels), [Float](repeating: .nan, count: channels))
          var (expectedMean, expectedVariance) = (mean, variance)
          BatchNormKernels.statistics(
            input: input, batch: batch, channels: channels, spatial: spatial, mean: &mean,
            variance: &variance, pool: pool)
          ReferenceBatchNorm.statistics(
            input: input, batch: batch, channels: channels, spatial: spatial,
            mean: &expectedMean, variance: &expectedVariance)
          assertClose(mean, expectedMean, rtol: 1e-5, atol: 1e-6, "mean \(label)")
          assertClose(variance, expectedVariance, rtol: 1e-5, atol: 1e-6, "variance \(label)")
        }
      }
    }
  }

  func testChannelAffineMatchesReference() {
    for threads in [1, 2] {
      let pool = WorkerPool(threadCount: threads)
      for (index, (batch, channels, spatial)) in Self.shapes.enumerated() {
        let count = batch * channels * spatial
        let input = randomArray(count, seed: UInt64(index))
        let scale = randomArray(channels, seed: 50)
        let shift = randomArray(channels, seed: 51)
        var output = [Float](repeating: .nan, count: count)
        var expected = output
        BatchNormKernels.channelAffine(
          input: input, scale: scale, shift: shift, output: &output, batch: batch,
          channels: channels, spatial: spatial, pool: pool)
        ReferenceBatchNorm.channelAffine(
          input: input, scale: scale, shift: shift, output: &expected, batch: batch,
          channels: channels, spatial: spatial)
        assertClose(output, expected, rtol: 1e-6, atol: 1e-6, "affine threads \(threads)")

        // In place.
        var inPlace = input
        inPlace.withUnsafeMutableBufferPointer { buffer in
          BatchNormKernels.channelAffine(
            input: buffer.baseAddress!, scale: scale, shift: shift, output: buffer.baseAddress!,
            batch: batch, channels: channels, spatial: spatial, pool: pool)
        }
        assertClose(inPlace, expected, rtol: 1e-6, atol: 1e-6, "in-place affine threads \(threads)")
      }
    }
  }

  /// The map followed by a per-image factor (a drop-path mask, kept images scaled by 2) is,
  /// bit for bit, the map's output multiplied by the factor afterwards.
  func testChannelAffineWithSampleScaleEqualsTheMapThenTheProduct() {
    for threads in [1, 2] {
      let pool = WorkerPool(threadCount: threads)
      for (index, (batch, channels, spatial)) in Self.shapes.enumerated() {
        let count = batch * channels * spatial
        let input = randomArray(count, seed: UInt64(index) + 60)
        let (scale, shift) = (randomArray(channels, seed: 61), randomArray(channels, seed: 62))
        let mask = (0..<batch).map { $0 % 3 == 1 ? Float(0) : 2 }
        var output = [Float](repeating: .nan, count: count)
        var mapped = output
        BatchNormKernels.channelAffine(
          input: input, scale: scale, shift: shift, output: &output, batch: batch, channels: channels,
          spatial: spatial, sampleScale: mask, pool: pool)
        BatchNormKernels.channelAffine(
          input: input, scale: scale, shift: shift, output: &mapped, batch: batch, channels: channels,
          spatial: spatial, pool: pool)
        let expected = mapped.indices.map { mapped[$0] * mask[$0 / (channels * spatial)] }
        XCTAssertEqual(output, expected, "\(batch)x\(channels)x\(spatial) threads \(threads)")
        var reference = [Float](repeating: .nan, count: count)
        ReferenceBatchNorm.channelAffine(
          input: input, scale: scale, shift: shift, output: &reference, batch: batch, channels: channels,
          spatial: spatial, sampleScale: mask)
        XCTAssertEqual(reference, expected, "reference \(batch)x\(channels)x\(spatial)")
      }
    }
  }

  func testBackwardMatchesReference() {
    for threads in [1, 2] {
      let pool = WorkerPool(threadCount: threads)
      for (index, (batch, channels, spatial)) in Self.shapes.enumerated() {
        for withGamma in [false, true] {
          let label = "\(batch)x\(channels)x\(spatial) gamma \(withGamma) threads \(threads)"
          let count = batch * channels * spatial
          let input = data(count, seed: UInt64(index), mean: 3, std: 0.5)
          let gradOutput = randomArray(count, seed: UInt64(index) + 10)
          var (mean, variance) = ([Float](repeating: 0, count: channels), [Float](repeating: 0, count: channels))
          ReferenceBatchNorm.statistics(
            input: input, batch: batch, channels: channels, spatial: spatial, mean: &mean,
            variance: &variance)
          let invStd = variance.map { 1 / ($0 + 1e-5).squareRoot() }
          let gamma = withGamma ? randomArray(channels, seed: 60, low: 0.5, high: 1.5) : nil

          var gradInput = [Float](repeating: .nan, count: count)
          var (gradGamma, gradBeta) = ([Float](repeating: .nan, count: channels), [Float](repeating: .nan, count: channels))
          var (expectedInput, expectedGamma, expectedBeta) = (gradInput, gradGamma, gradBeta)
          BatchNormKernels.backward(
            gradOutput: gradOutput, input: input, mean: mean, invStd: invStd, gamma: gamma,
            gradInput: &gradInput, gradGamma: &gradGamma, gradBeta: &gradBeta, batch: batch,
            channels: channels, spatial: spatial, pool: pool)
          ReferenceBatchNorm.backward(
            gradOutput: gradOutput, input: input, mean: mean, invStd: invStd, gamma: gamma,
            gradInput: &expectedInput, gradGamma: &expectedGamma, gradBeta: &expectedBeta,
            batch: batch, channels: channels, spatial: spatial)
          assertClose(gradBeta, expectedBeta, rtol: 1e-5, atol: 1e-5, "gradBeta \(label)")
          assertClose(gradGamma, expectedGamma, rtol: 1e-4, atol: 1e-4, "gradGamma \(label)")
          assertClose(gradInput, expectedInput, rtol: 1e-4, atol: 1e-4, "gradInput \(label)")
        }
      }
    }
  }
}
