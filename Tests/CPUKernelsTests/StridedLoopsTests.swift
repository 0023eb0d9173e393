import CPUKernels
import XCTest
import _TestSupport

/// The strided loops (copy, binary, strided weighted sum and its backward pass) against
/// `ReferenceStridedLoops` on 1 and 3 threads, and the merging of axes against index formulas.
final class StridedLoopsTests: XCTestCase {
  static let threadCounts = [1, 3]

  /// 57 687 elements: enough for the outer axis of a copy or binary to be split across threads.
  static let large = [7, 3, 41, 67]

  /// A value no test data reaches: marks destination elements that must not be written.
  static let sentinel: Float = 7

  /// Runs `StridedLoops.copy` and its reference over the same source and initial destination,
  /// overwriting and accumulating (overwriting only where no axis of extent > 1 has destination
  /// stride 0, as a reduction would keep whichever value came last).
  private func checkCopy(
    _ label: String, shape: [Int], sourceCount: Int, sourceStrides: [Int], destinationCount: Int,
    destinationStrides: [Int], file: StaticString = #filePath, line: UInt = #line
  ) {
    let source = randomArray(sourceCount, seed: 40)
    let initial = randomArray(destinationCount, seed: 41)
    let reduces = zip(shape, destinationStrides).contains { $0 > 1 && $1 == 0 }
    // Both add element by element in row-major order, except that the fast kernel sums an
    // innermost row of destination stride 0 in Float first: reductions over the last axis (sums
    // of at most 255 terms below 1) agree to Float rounding, 2e-5 being five times the largest
    // difference seen; everything else bit for bit.
    let tolerance: Float = destinationStrides.last == 0 && (shape.last ?? 1) > 1 ? 2e-5 : 0
    for accumulate in reduces ? [true] : [false, true] {
      var expected = initial
      ReferenceStridedLoops.copy(
        shape: shape, source: source, sourceStrides: sourceStrides, destination: &expected,
        destinationStrides: destinationStrides, accumulate: accumulate)
      for threads in Self.threadCounts {
        var actual = initial
        StridedLoops.copy(
          shape: shape, source: source, sourceStrides: sourceStrides, destination: &actual,
          destinationStrides: destinationStrides, accumulate: accumulate, pool: WorkerPool(threadCount: threads))
        assertClose(
          actual, expected, rtol: tolerance, atol: tolerance,
          "\(label) accumulate \(accumulate) threads \(threads)", file: file, line: line)
      }
    }
  }

  func testCopyMatchesReference() {
    let large = Self.large
    let largeCount = large.reduce(1, *)
    checkCopy("permutation [2, 0, 1] of [3, 5, 17]", shape: [17, 3, 5], sourceCount: 255,
      sourceStrides: [1, 85, 17], destinationCount: 255, destinationStrides: [15, 5, 1])
    checkCopy("every third channel of [3, 12, 5, 7]", shape: [3, 4, 5, 7], sourceCount: 1260,
      sourceStrides: [420, 105, 7, 1], destinationCount: 420, destinationStrides: [140, 35, 7, 1])
    checkCopy("channel shuffle of [3, 12, 5, 7] in 4 groups", shape: [3, 3, 4, 5, 7], sourceCount: 1260,
      sourceStrides: [420, 35, 105, 7, 1], destinationCount: 1260, destinationStrides: [420, 140, 35, 7, 1])
    checkCopy("[6] broadcast to [4, 6, 19]", shape: [4, 6, 19], sourceCount: 6, sourceStrides: [0, 1, 0],
      destinationCount: 456, destinationStrides: [114, 19, 1])
    checkCopy("large transpose of axes 1 and 2", shape: large, sourceCount: largeCount,
      sourceStrides: StridedLoops.contiguousStrides(large), destinationCount: largeCount,
      destinationStrides: [8241, 67, 201, 1])
    checkCopy("scalar", shape: [], sourceCount: 1, sourceStrides: [], destinationCount: 1, destinationStrides: [])
    checkCopy("empty", shape: [3, 0, 4], sourceCount: 0, sourceStrides: [0, 4, 1], destinationCount: 12,
      destinationStrides: [0, 4, 1])
    // Reductions of [3, 5, 17] and of the large tensor.
    let strides = [85, 17, 1]
    checkCopy("sum over axes 0 and 2", shape: [3, 5, 17], sourceCount: 255, sourceStrides: strides,
      destinationCount: 5, destinationStrides: [0, 1, 0])
    checkCopy("sum over axes 1 and 2", shape: [3, 5, 17], sourceCount: 255, sourceStrides: strides,
      destinationCount: 3, destinationStrides: [1, 0, 0])
    checkCopy("sum over axis 0", shape: [3, 5, 17], sourceCount: 255, sourceStrides: strides,
      destinationCount: 85, destinationStrides: [0, 17, 1])
    checkCopy("sum of everything", shape: [3, 5, 17], sourceCount: 255, sourceStrides: strides,
      destinationCount: 1, destinationStrides: [0, 0, 0])
    checkCopy("large sum over axes 0 and 2", shape: large, sourceCount: largeCount,
      sourceStrides: StridedLoops.contiguousStrides(large), destinationCount: 3 * 67,
      destinationStrides: [0, 67, 0, 1])
  }

  /// Every broadcast pattern the fast kernel special-cases (both rows contiguous, one operand
  /// constant along the row, neither) and a general one, for all four operations: the same
  /// Float operation per element, so bit for bit.
  func testBinaryMatchesReference() {
    let large = Self.large
    let cases: [(label: String, shape: [Int], aCount: Int, aStrides: [Int], bCount: Int, bStrides: [Int])] = [
      ("same layout", [3, 5, 17], 255, [85, 17, 1], 255, [85, 17, 1]),
      ("b per channel", [3, 5, 17], 255, [85, 17, 1], 5, [0, 1, 0]),
      ("a scalar", [3, 5, 17], 1, [0, 0, 0], 255, [85, 17, 1]),
      ("b per row position", [3, 5, 17], 255, [85, 17, 1], 17, [0, 0, 1]),
      ("a transposed, b per row position", [5, 17, 3], 255, [17, 1, 85], 3, [0, 0, 1]),
      ("both strided along the row", [3, 17], 51, [1, 3], 17, [0, 1]),
      ("large, b per plane position", large, large.reduce(1, *), StridedLoops.contiguousStrides(large),
        41 * 67, [0, 0, 67, 1]),
      ("scalar", [], 1, [], 1, []),
      ("empty", [2, 0], 0, [0, 1], 0, [0, 1]),
      // Drop path: a per-sample scalar over NCHW, whose stride-0 axes merge into one row.
      ("b per sample", [4, 6, 5, 7], 840, [210, 35, 7, 1], 4, [1, 0, 0, 0]),
      ("a per sample", [4, 6, 5, 7], 4, [1, 0, 0, 0], 840, [210, 35, 7, 1]),
    ]
    let operations: [StridedLoops.BinaryOperation] = [.add, .subtract, .multiply, .divide]
    for c in cases {
      let a = randomArray(c.aCount, seed: 42)
      let b = randomArray(c.bCount, seed: 43, low: 0.5, high: 2)
      let count = c.shape.reduce(1, *)
      for operation in operations {
        var expected = [Float](repeating: .nan, count: count)
        ReferenceStridedLoops.binary(
          operation, shape: c.shape, a: a, aStrides: c.aStrides, b: b, bStrides: c.bStrides, out: &expected)
        for threads in Self.threadCounts {
          var actual = [Float](repeating: .nan, count: count)
          StridedLoops.binary(
            operation, shape: c.shape, a: a, aStrides: c.aStrides, b: b, bStrides: c.bStrides, out: &actual,
            pool: WorkerPool(threadCount: threads))
          assertClose(actual, expected, rtol: 0, atol: 0, "\(c.label) \(operation) threads \(threads)")
        }
      }
    }
  }

  /// The layout of a PC-DARTS node: shape `[images 3, 2, 2, plane 37]` over channels
  /// `c = 2a + b`; source `j` has `sourceChannels[j]` channels and is read from channel
  /// `firstChannel[j]` on; the destination interleaves them as channel `2c + 1` of 8, as a
  /// channel shuffle does.
  private enum ShuffleLayout {
    static let (images, plane) = (3, 37)
    static let shape = [images, 2, 2, plane]
    static let sourceChannels = [4, 6, 9]
    static let firstChannel = [0, 2, 5]
    static var sourceCounts: [Int] { sourceChannels.map { images * $0 * plane } }
    static var sourceOffsets: [Int] { firstChannel.map { $0 * plane } }
    static var sourceStrides: [[Int]] { sourceChannels.map { [$0 * plane, 2 * plane, plane, 1] } }
    static let destinationCount = images * 8 * plane
    static let destinationOffset = plane
    static let destinationStrides = [8 * plane, 4 * plane, 2 * plane, 1]
  }

  /// The strided weighted sum and its reference add one fused multiply-add per source in
  /// source order, so they agree bit for bit; only the destination's elements are written.
  func testStridedWeightedSumMatchesReference() {
    typealias L = ShuffleLayout
    for k in [1, 3] {
      let buffers = (0..<k).map { copyToBuffer(randomArray(L.sourceCounts[$0], seed: UInt64(20 + $0))) }
      defer { buffers.forEach { $0.deallocate() } }
      let sources = (0..<k).map { UnsafePointer(buffers[$0]) + L.sourceOffsets[$0] }
      let strides = Array(L.sourceStrides.prefix(k))
      let weights = randomArray(k, seed: 30)
      var expected = [Float](repeating: Self.sentinel, count: L.destinationCount)
      expected.withUnsafeMutableBufferPointer { out in
        ReferenceStridedLoops.weightedSum(
          shape: L.shape, sources: sources, sourceStrides: strides, weights: weights,
          destination: out.baseAddress! + L.destinationOffset, destinationStrides: L.destinationStrides)
      }
      let written = expected.indices.filter { expected[$0] != Self.sentinel }
      XCTAssertEqual(written, expected.indices.filter { ($0 / L.plane) % 2 == 1 }, "odd channels written, k \(k)")
      for threads in Self.threadCounts {
        var actual = [Float](repeating: Self.sentinel, count: L.destinationCount)
        actual.withUnsafeMutableBufferPointer { out in
          StridedLoops.weightedSum(
            shape: L.shape, sources: sources, sourceStrides: strides, weights: weights,
            destination: out.baseAddress! + L.destinationOffset, destinationStrides: L.destinationStrides,
            pool: WorkerPool(threadCount: threads))
        }
        assertClose(actual, expected, rtol: 0, atol: 0, "k \(k) threads \(threads)")
      }
    }
  }

  func testStridedWeightedSumBackwardMatchesReference() {
    typealias L = ShuffleLayout
    checkBackward(
      "shuffle layout", shape: L.shape, gradientCount: L.destinationCount, gradientOffset: L.destinationOffset,
      gradientStrides: L.destinationStrides, sourceCounts: L.sourceCounts, sourceOffsets: L.sourceOffsets,
      sourceStrides: L.sourceStrides, withGradient: [true, false, true])
    for n in [17, 100_003] {
      for k in [1, 4] {
        checkBackward(
          "flat n \(n) k \(k)", shape: [1, 1, 1, n], gradientCount: n, gradientOffset: 0,
          gradientStrides: [n, 0, 0, 1], sourceCounts: Array(repeating: n, count: k),
          sourceOffsets: Array(repeating: 0, count: k), sourceStrides: Array(repeating: [n, 0, 0, 1], count: k),
          withGradient: (0..<k).map { $0 % 2 == 0 })
      }
    }
  }

  /// Runs `StridedLoops.weightedSumBackward` and its reference on the same data, with and
  /// without weight gradients; source `j` gets an input gradient (laid out like the source,
  /// other elements untouched) where `withGradient[j]`. Input gradients are one Float multiply
  /// each, so bit for bit. The weight gradients: the fast kernel sums Float products in Float
  /// (16 lanes, a whole row of up to 100 003 elements before a fold into Double) and the
  /// reference every exact product in Double; the tolerance 1e-6·Σ |g·x| is more than ten
  /// times the largest error seen. They must not depend on the thread count at all.
  private func checkBackward(
    _ label: String, shape: [Int], gradientCount: Int, gradientOffset: Int, gradientStrides: [Int],
    sourceCounts: [Int], sourceOffsets: [Int], sourceStrides: [[Int]], withGradient: [Bool],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    let k = sourceCounts.count
    let g = randomArray(gradientCount, seed: 31)
    let sourceValues = (0..<k).map { randomArray(sourceCounts[$0], seed: UInt64(20 + $0)) }
    let weights = randomArray(k, seed: 30)
    let buffers = sourceValues.map(copyToBuffer) + sourceValues.map { copyToBuffer($0.map(abs)) }
    defer { buffers.forEach { $0.deallocate() } }
    let sources = (0..<k).map { UnsafePointer(buffers[$0]) + sourceOffsets[$0] }
    let absSources = (0..<k).map { UnsafePointer(buffers[k + $0]) + sourceOffsets[$0] }
    let absG = g.map(abs)
    let noGradients = [UnsafeMutablePointer<Float>?](repeating: nil, count: k)
    // Σ |g·x| per source, for the tolerance of the weight gradients.
    let magnitudes = absG.withUnsafeBufferPointer { gradient in
      ReferenceStridedLoops.weightedSumBackward(
        shape: shape, gradient: gradient.baseAddress! + gradientOffset, gradientStrides: gradientStrides,
        sources: absSources, sourceStrides: sourceStrides, weights: weights, gradInputs: noGradients,
        gradInputStrides: sourceStrides, needWeightGradient: true)
    }

    /// Runs `kernel` on fresh gradient slots filled with the sentinel; returns them and its result.
    func run(
      _ kernel: (UnsafePointer<Float>, [UnsafeMutablePointer<Float>?]) -> [Double]
    ) -> (slots: [[Float]], dots: [Double]) {
      let slots = (0..<k).map { j in withGradient[j] ? copyToBuffer(Array(repeating: Self.sentinel, count: sourceCounts[j])) : nil }
      defer { slots.forEach { $0?.deallocate() } }
      let gradInputs = (0..<k).map { j in slots[j].map { $0 + sourceOffsets[j] } }
      let dots = g.withUnsafeBufferPointer { kernel($0.baseAddress! + gradientOffset, gradInputs) }
      return ((0..<k).map { j in slots[j].map { Array(UnsafeBufferPointer(start: $0, count: sourceCounts[j])) } ?? [] }, dots)
    }

    for needWeightGradient in [false, true] {
      let expected = run { gradient, gradInputs in
        ReferenceStridedLoops.weightedSumBackward(
          shape: shape, gradient: gradient, gradientStrides: gradientStrides, sources: sources,
          sourceStrides: sourceStrides, weights: weights, gradInputs: gradInputs, gradInputStrides: sourceStrides,
          needWeightGradient: needWeightGradient)
      }
      var dotsByThreads: [[Double]] = []
      for threads in Self.threadCounts {
        let pool = WorkerPool(threadCount: threads)
        let actual = run { gradient, gradInputs in
          StridedLoops.weightedSumBackward(
            shape: shape, gradient: gradient, gradientStrides: gradientStrides, sources: sources,
            sourceStrides: sourceStrides, weights: weights, gradInputs: gradInputs, gradInputStrides: sourceStrides,
            needWeightGradient: needWeightGradient, pool: pool)
        }
        let context = "\(label) weight gradient \(needWeightGradient) threads \(threads)"
        for j in 0..<k {
          assertClose(actual.slots[j], expected.slots[j], rtol: 0, atol: 0, "gradient \(j) \(context)", file: file, line: line)
          let tolerance = needWeightGradient ? 1e-6 * magnitudes[j] : 0
          XCTAssertEqual(actual.dots[j], expected.dots[j], accuracy: tolerance, "dot \(j) \(context)", file: file, line: line)
        }
        dotsByThreads.append(actual.dots)
      }
      XCTAssertEqual(dotsByThreads[0], dotsByThreads[1], "weight gradients independent of the thread count, \(label)", file: file, line: line)
    }
  }

  /// Channel slices and channel shuffles of NCHW, whose inner axes `forEachRow` merges into
  /// whole channel blocks or planes, against index loops; and the merging rule itself.
  func testStridedCopiesOverMergedAxesMatchIndexLoops() {
    let (n, c, h, w) = (3, 12, 5, 7)
    let plane = h * w
    let x = randomArray(n * c * plane, seed: 9)
    for threads in Self.threadCounts {
      let pool = WorkerPool(threadCount: threads)
      // Channels 4..<12 (a slice): source strides of x, contiguous destination.
      var slice = [Float](repeating: .nan, count: n * 8 * plane)
      StridedLoops.copy(
        shape: [n, 8, h, w], source: x.withUnsafeBufferPointer { $0.baseAddress! } + 4 * plane,
        sourceStrides: [c * plane, plane, w, 1], destination: &slice, destinationStrides: [8 * plane, plane, w, 1],
        accumulate: false, pool: pool)
      assertClose(slice, (0..<slice.count).map { i in x[(i / (8 * plane)) * c * plane + 4 * plane + i % (8 * plane)] }, rtol: 0, atol: 0)
      // Channel shuffle with 4 groups: [n, 4, 3, h, w] permuted to [n, 3, 4, h, w].
      var shuffled = [Float](repeating: .nan, count: x.count)
      StridedLoops.copy(
        shape: [n, 3, 4, h, w], source: x, sourceStrides: [c * plane, plane, 3 * plane, w, 1],
        destination: &shuffled, destinationStrides: [c * plane, 4 * plane, plane, w, 1], accumulate: false, pool: pool)
      assertClose(shuffled, (0..<x.count).map { i -> Float in
        let (image, channel, pixel) = (i / (c * plane), (i / plane) % c, i % plane)
        return x[image * c * plane + ((channel % 4) * 3 + channel / 4) * plane + pixel]
      }, rtol: 0, atol: 0)
    }
    let merged = StridedLoops.coalescedAxes([n, 8, h, w], [[c * plane, plane, w, 1], [8 * plane, plane, w, 1]])
    XCTAssertEqual(merged.shape, [n, 8 * plane])
    XCTAssertEqual(merged.strides, [[c * plane, 1], [8 * plane, 1]])
    // Stride-0 (reduced) axes keep their own loop, so summation order is unchanged.
    let reduced = StridedLoops.coalescedAxes([n, c, h, w], [[c * plane, plane, w, 1], [0, 1, 0, 0]])
    XCTAssertEqual(reduced.shape, [n, c, h, w])
    // Element-wise operations may merge runs of broadcast axes: one scalar per C·H·W row.
    let perSample = StridedLoops.coalescedAxes([n, c, h, w], [[c * plane, plane, w, 1], [1, 0, 0, 0]], mergingBroadcasts: true)
    XCTAssertEqual(perSample.shape, [n, c * plane])
    XCTAssertEqual(perSample.strides, [[c * plane, 1], [1, 0]])
    let perChannel = StridedLoops.coalescedAxes([n, c, h, w], [[c * plane, plane, w, 1], [0, 1, 0, 0]], mergingBroadcasts: true)
    XCTAssertEqual(perChannel.shape, [n, c, plane])
  }
}
