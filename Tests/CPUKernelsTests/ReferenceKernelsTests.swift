import CPUKernels
import XCTest

/// Reference kernels on small hand-computed values (all exact in Float): the three that have no
/// fast version (the CPU backend calls them too) and the strided odometer.
final class ReferenceKernelsTests: XCTestCase {
  func testRowMaximum() {
    let x: [Float] = [1, -2, 3, 0.5, -5, -1, -3, -4, .nan, 2, .nan, -.infinity, .nan, .nan, .nan, .nan]
    var output = [Float](repeating: 0, count: 4)
    ReferenceReductions.rowMaximum(x, rows: 4, length: 4, output: &output)
    XCTAssertEqual(output, [3, -1, 2, -.infinity], "NaNs are passed over")
    var empty: [Float] = [9, 9]
    ReferenceReductions.rowMaximum([], rows: 2, length: 0, output: &empty)
    XCTAssertEqual(empty, [-.infinity, -.infinity])
  }

  func testBatchNormCoefficients() {
    let (mean, variance): ([Float], [Float]) = ([2, -1], [3, 0])
    var (invStd, scale, shift) = ([Float](repeating: .nan, count: 2), [Float](repeating: .nan, count: 2), [Float](repeating: .nan, count: 2))
    ReferenceBatchNorm.coefficients(
      mean: mean, variance: variance, gamma: [3, -2], beta: [1, 0.5], epsilon: 1, channels: 2,
      invStd: &invStd, scale: &scale, shift: &shift)
    XCTAssertEqual(invStd, [0.5, 1])
    XCTAssertEqual(scale, [1.5, -2])
    XCTAssertEqual(shift, [-2, -1.5], "1 − 2·1.5, 0.5 − (−1)·(−2)")
    ReferenceBatchNorm.coefficients(
      mean: mean, variance: variance, gamma: nil, beta: nil, epsilon: 1, channels: 2,
      invStd: &invStd, scale: &scale, shift: &shift)
    XCTAssertEqual(invStd, [0.5, 1])
    XCTAssertEqual(scale, [0.5, 1], "γ = 1 without gamma")
    XCTAssertEqual(shift, [-1, 1], "β = 0 without beta")
  }

  func testRunningAverage() {
    var running: [Float] = [4, -2, 0]
    ReferenceElementwise.runningAverage(&running, toward: [8, 2, 1], count: 3, momentum: 0.25, scale: 1)
    XCTAssertEqual(running, [5, -1, 0.25], "0.75·4 + 0.25·8, 0.75·(−2) + 0.25·2, 0.25·1")
    ReferenceElementwise.runningAverage(&running, toward: [8, 2, 1], count: 3, momentum: 0.25, scale: 2)
    XCTAssertEqual(running, [7.75, 0.25, 0.6875], "0.75·5 + 0.25·8·2, 0.75·(−1) + 0.25·2·2, 0.75·0.25 + 0.25·1·2")
  }

  /// The odometer visits multi-indices in row-major order with each operand's own strides.
  func testStridedLoopsOnHandComputedValues() {
    let x: [Float] = [1, 2, 3, 4, 5, 6]  // [2, 3], row-major
    var transposed = [Float](repeating: 0, count: 6)
    ReferenceStridedLoops.copy(
      shape: [3, 2], source: x, sourceStrides: [1, 3], destination: &transposed, destinationStrides: [2, 1],
      accumulate: false)
    XCTAssertEqual(transposed, [1, 4, 2, 5, 3, 6])
    var rowSums: [Float] = [100, 0]
    ReferenceStridedLoops.copy(
      shape: [2, 3], source: x, sourceStrides: [3, 1], destination: &rowSums, destinationStrides: [1, 0],
      accumulate: true)
    XCTAssertEqual(rowSums, [106, 15])
    var difference = [Float](repeating: 0, count: 6)
    ReferenceStridedLoops.binary(
      .subtract, shape: [2, 3], a: x, aStrides: [3, 1], b: [10, 20, 30], bStrides: [0, 1], out: &difference)
    XCTAssertEqual(difference, [-9, -18, -27, -6, -15, -24])

    let sources: [[Float]] = [[1, 2, 3], [4, 5, 6]]
    let buffers = sources.map(copyToBuffer)
    defer { buffers.forEach { $0.deallocate() } }
    var sum = [Float](repeating: 0, count: 3)
    ReferenceStridedLoops.weightedSum(
      shape: [3], sources: buffers.map { UnsafePointer($0) }, sourceStrides: [[1], [1]], weights: [2, -1],
      destination: &sum, destinationStrides: [1])
    XCTAssertEqual(sum, [-2, -1, 0])
    var gradInput = [Float](repeating: 0, count: 3)
    let dots = gradInput.withUnsafeMutableBufferPointer { slot in
      ReferenceStridedLoops.weightedSumBackward(
        shape: [3], gradient: [1, 2, 3], gradientStrides: [1], sources: buffers.map { UnsafePointer($0) },
        sourceStrides: [[1], [1]], weights: [2, -1], gradInputs: [slot.baseAddress!, nil],
        gradInputStrides: [[1], [1]], needWeightGradient: true)
    }
    XCTAssertEqual(gradInput, [2, 4, 6])
    XCTAssertEqual(dots, [14, 32])
  }
}
