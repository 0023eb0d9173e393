import CPUKernels
import XCTest
import _TestSupport

/// `Pooling` against `ReferencePooling`, on one, two and three threads.
final class PoolingTests: XCTestCase {
  /// (planes, height, width, kernel, stride, padding).
  static let geometries: [PoolGeometry] = [
    (6, 13, 13, 3, 1, 1),  // normal-cell 3×3
    (5, 17, 17, 3, 2, 1),  // reduction-cell 3×3, odd size
    (3, 7, 7, 3, 2, 1),
    (3, 33, 33, 3, 1, 1),
    (2, 32, 32, 3, 2, 1),
    (4, 16, 16, 2, 2, 0),  // 2×2
    (3, 9, 9, 2, 2, 0),  // last row and column in no window
    (2, 8, 8, 5, 3, 0),  // auxiliary head, 5×5 stride 3
    (2, 7, 7, 5, 2, 0),  // auxiliary head, 5×5 stride 2
    (2, 3, 3, 3, 1, 1),
    (2, 12, 19, 3, 2, 1),  // non-square
    (3, 8, 8, 3, 1, 1),  // 8×8 planes (8-lane rows)
    (2, 21, 21, 3, 2, 1),  // stride 2 with an overlapping last vector
  ].map { PoolGeometry(planes: $0, inHeight: $1, inWidth: $2, kernel: $3, stride: $4, padding: $5) }

  /// Distinct values in `[-0.5, 0.5)` in a scrambled order (no ties).
  private func distinct(_ count: Int) -> [Float] {
    (0..<count).map { Float(($0 * 7919) % count) / Float(count) - 0.5 }
  }

  func testMaxPoolingMatchesReference() {
    for threads in [1, 2, 3] {
      let pool = WorkerPool(threadCount: threads)
      for (index, g) in Self.geometries.enumerated() {
        let label = "\(g) threads \(threads)"
        let input = distinct(g.inputCount)
        let gradOutput = randomArray(g.outputCount, seed: UInt64(index))
        var output = [Float](repeating: .nan, count: g.outputCount)
        var expected = output
        Pooling.maxForward(g, input: input, output: &output, pool: pool)
        ReferencePooling.maxForward(g, input: input, output: &expected)
        assertClose(output, expected, rtol: 0, atol: 0, "maxForward \(label)")

        var gradInput = [Float](repeating: .nan, count: g.inputCount)
        var expectedGradInput = gradInput
        Pooling.maxBackward(
          g, input: input, gradOutput: gradOutput, gradInput: &gradInput, pool: pool)
        ReferencePooling.maxBackward(
          g, input: input, gradOutput: gradOutput, gradInput: &expectedGradInput)
        assertClose(gradInput, expectedGradInput, rtol: 1e-6, atol: 1e-6, "maxBackward \(label)")
      }
    }
  }

  func testMaxBackwardRoutesTiesToFirstMaximum() {
    // A constant 4×4 plane: every window is one tie, won by its first in-bounds input.
    let g = PoolGeometry(planes: 1, inHeight: 4, inWidth: 4, kernel: 3, stride: 2, padding: 1)
    let input = [Float](repeating: 1, count: 16)
    let gradOutput: [Float] = [1, 2, 3, 4]
    for threads in [1, 2] {
      var gradInput = [Float](repeating: .nan, count: 16)
      Pooling.maxBackward(
        g, input: input, gradOutput: gradOutput, gradInput: &gradInput,
        pool: WorkerPool(threadCount: threads))
      var expected = [Float](repeating: 0, count: 16)
      (expected[0], expected[1], expected[4], expected[5]) = (1, 2, 3, 4)
      XCTAssertEqual(gradInput, expected)

      // Stride 1 with ties between two values.
      let g1 = PoolGeometry(planes: 2, inHeight: 5, inWidth: 6, kernel: 3, stride: 1, padding: 1)
      let tied = (0..<g1.inputCount).map { Float(($0 / 2) % 2) }
      let grad = randomArray(g1.outputCount, seed: 7)
      var result = [Float](repeating: .nan, count: g1.inputCount)
      var reference = result
      Pooling.maxBackward(
        g1, input: tied, gradOutput: grad, gradInput: &result, pool: WorkerPool(threadCount: threads))
      ReferencePooling.maxBackward(g1, input: tied, gradOutput: grad, gradInput: &reference)
      assertClose(result, reference, rtol: 1e-6, atol: 1e-6, "ties, stride 1")
    }
  }

  func testAveragePoolingMatchesReference() {
    for threads in [1, 2, 3] {
      let pool = WorkerPool(threadCount: threads)
      for (index, g) in Self.geometries.enumerated() {
        for includePad in [false, true] {
          let label = "\(g) includePad \(includePad) threads \(threads)"
          let input = randomArray(g.inputCount, seed: UInt64(index))
          let gradOutput = randomArray(g.outputCount, seed: UInt64(index) + 100)
          var output = [Float](repeating: .nan, count: g.outputCount)
          var expected = output
          Pooling.averageForward(
            g, countIncludePad: includePad, input: input, output: &output, pool: pool)
          ReferencePooling.averageForward(
            g, countIncludePad: includePad, input: input, output: &expected)
          assertClose(output, expected, rtol: 1e-5, atol: 1e-6, "averageForward \(label)")

          var gradInput = [Float](repeating: .nan, count: g.inputCount)
          var expectedGradInput = gradInput
          Pooling.averageBackward(
            g, countIncludePad: includePad, gradOutput: gradOutput, gradInput: &gradInput,
            pool: pool)
          ReferencePooling.averageBackward(
            g, countIncludePad: includePad, gradOutput: gradOutput,
            gradInput: &expectedGradInput)
          assertClose(
            gradInput, expectedGradInput, rtol: 1e-5, atol: 1e-6, "averageBackward \(label)")
        }
      }
    }
  }
}
