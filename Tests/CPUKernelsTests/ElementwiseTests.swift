import CPUKernels
import XCTest
import _TestSupport

/// Element-wise, reduction, weighted-sum and strided kernels against plain loops, on sizes that
/// are not multiples of 16 (and large enough to be split across threads), on 1 and 2 threads.
final class ElementwiseTests: XCTestCase {
  static let counts = [1, 15, 17, 1_000, 100_003]

  func testMapsAndZipsMatchPlainLoops() {
    for threads in [1, 2] {
      let pool = WorkerPool(threadCount: threads)
      for n in Self.counts {
        let a = randomArray(n, seed: 1)
        let b = randomArray(n, seed: 2, low: 0.5, high: 2)
        var out = [Float](repeating: .nan, count: n)
        Elementwise.add(a, b, &out, count: n, pool: pool)
        assertClose(out, zip(a, b).map(+), rtol: 0, atol: 0)
        Elementwise.divide(a, b, &out, count: n, pool: pool)
        assertClose(out, zip(a, b).map(/), rtol: 1e-7, atol: 0)
        Elementwise.relu(a, &out, count: n, pool: pool)
        assertClose(out, a.map { max($0, 0) }, rtol: 0, atol: 0)
        Elementwise.reluBackward(input: a, gradOutput: b, gradInput: &out, count: n, pool: pool)
        assertClose(out, zip(a, b).map { $0 > 0 ? $1 : 0 }, rtol: 0, atol: 0)
        Elementwise.affine(a, scale: 3, shift: -1, &out, count: n, pool: pool)
        assertClose(out, a.map { $0 * 3 - 1 }, rtol: 1e-6, atol: 1e-7)
        var y = b
        Elementwise.addScaled(a, alpha: 0.5, into: &y, count: n, pool: pool)
        assertClose(y, zip(a, b).map { $1 + 0.5 * $0 }, rtol: 1e-6, atol: 1e-7)
        let dot = Elementwise.dot(a, b, count: n, pool: pool)
        let expectedDot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(dot, expectedDot, accuracy: 1e-5 * max(1, abs(expectedDot)))
        XCTAssertEqual(Elementwise.sum(a, count: n, pool: pool), a.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-4)
      }
    }
  }

  func testWeightedSumAndItsBackwardMatchPlainLoops() {
    for threads in [1, 2] {
      let pool = WorkerPool(threadCount: threads)
      for n in Self.counts {
        for k in [1, 4, 7] {
          let inputs = (0..<k).map { randomArray(n, seed: UInt64(10 + $0)) }
          let weights = randomArray(k, seed: 3)
          let g = randomArray(n, seed: 4)
          let pointers = inputs.map(copyToBuffer)
          let slots = (0..<k).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: n) }
          let out = UnsafeMutablePointer<Float>.allocate(capacity: n)
          defer { (pointers + slots + [out]).forEach { $0.deallocate() } }
          Elementwise.weightedSum(pointers.map { UnsafePointer($0) }, weights: weights, out, count: n, pool: pool)
          let expected = (0..<n).map { i in (0..<k).reduce(Float(0)) { $0 + weights[$1] * inputs[$1][i] } }
          assertClose(Array(UnsafeBufferPointer(start: out, count: n)), expected, rtol: 1e-5, atol: 1e-6, "weighted sum n \(n) k \(k)")

          let dots = StridedLoops.weightedSumBackward(
            shape: [1, 1, 1, n], gradient: g, gradientStrides: [n, 0, 0, 1], sources: pointers.map { UnsafePointer($0) },
            sourceStrides: Array(repeating: [n, 0, 0, 1], count: k), weights: weights, gradInputs: slots,
            gradInputStrides: Array(repeating: [n, 0, 0, 1], count: k), needWeightGradient: true, pool: pool)
          for j in 0..<k {
            assertClose(Array(UnsafeBufferPointer(start: slots[j], count: n)), g.map { $0 * weights[j] }, rtol: 1e-6, atol: 0, "gradient \(j)")
            let expectedDot = (0..<n).reduce(0.0) { $0 + Double(g[$1]) * Double(inputs[j][$1]) }
            XCTAssertEqual(dots[j], expectedDot, accuracy: 1e-4 * max(1, abs(expectedDot)), "dot \(j)")
          }
        }
      }
    }
  }

  /// The strided weighted sum gathers each source through its own strides and scatters into
  /// the destination's (here: sources of different channel counts read from channel offsets,
  /// written interleaved as a channel shuffle does), and its backward pass writes each gradient
  /// back through the source's strides; the weight gradients are the same on 1 and 2 threads.
  func testStridedWeightedSumAndItsBackwardMatchPlainLoops() {
    // Shape [images 3, 2, 2, plane 37] over channels c = 2a + b; source j has
    // `sourceChannels[j]` channels and is read from channel `first[j]`; the destination
    // interleaves them as channel c·2 + 1 of 8.
    let (images, channels, plane) = (3, 4, 37)
    let sourceChannels = [4, 6, 9]
    let first = [0, 2, 5]
    let sources = sourceChannels.enumerated().map { randomArray(images * $0.element * plane, seed: UInt64(20 + $0.offset)) }
    let weights = randomArray(sources.count, seed: 30)
    let g = randomArray(images * 8 * plane, seed: 31)
    let shape = [images, 2, 2, plane]
    let sourceStrides = sourceChannels.map { [$0 * plane, 2 * plane, plane, 1] }
    let destinationStrides = [8 * plane, 4 * plane, 2 * plane, 1]
    func sourceIndex(_ j: Int, _ n: Int, _ c: Int, _ i: Int) -> Int { (n * sourceChannels[j] + first[j] + c) * plane + i }
    func destinationIndex(_ n: Int, _ c: Int, _ i: Int) -> Int { (n * 8 + c * 2 + 1) * plane + i }
    var expected = [Float](repeating: .nan, count: g.count)
    var expectedGradients = sourceChannels.map { [Float](repeating: 0, count: images * $0 * plane) }
    var expectedDots = [Double](repeating: 0, count: sources.count)
    for n in 0..<images {
      for c in 0..<channels {
        for i in 0..<plane {
          expected[destinationIndex(n, c, i)] = (0..<sources.count).reduce(Float(0)) { $0 + weights[$1] * sources[$1][sourceIndex($1, n, c, i)] }
          for j in sources.indices {
            expectedGradients[j][sourceIndex(j, n, c, i)] = weights[j] * g[destinationIndex(n, c, i)]
            expectedDots[j] += Double(g[destinationIndex(n, c, i)]) * Double(sources[j][sourceIndex(j, n, c, i)])
          }
        }
      }
    }
    var dotsByThreads: [[Double]] = []
    for threads in [1, 2] {
      let pool = WorkerPool(threadCount: threads)
      let pointers = sources.map(copyToBuffer)
      let slots = sourceChannels.map { count -> UnsafeMutablePointer<Float> in
        let slot = UnsafeMutablePointer<Float>.allocate(capacity: images * count * plane)
        slot.initialize(repeating: 0, count: images * count * plane)
        return slot
      }
      var out = [Float](repeating: .nan, count: g.count)
      defer { (pointers + slots).forEach { $0.deallocate() } }
      let offsetSources = pointers.indices.map { UnsafePointer(pointers[$0]) + first[$0] * plane }
      out.withUnsafeMutableBufferPointer { buffer in
        StridedLoops.weightedSum(
          shape: shape, sources: offsetSources, sourceStrides: sourceStrides, weights: weights,
          destination: buffer.baseAddress! + plane, destinationStrides: destinationStrides, pool: pool)
      }
      for index in out.indices where (index / plane) % 2 == 1 { XCTAssertEqual(out[index], expected[index], accuracy: 1e-6) }
      XCTAssertTrue(out.indices.filter { (index: Int) in (index / plane) % 2 == 0 }.allSatisfy { out[$0].isNaN }, "only the destination's elements are written")
      let dots = g.withUnsafeBufferPointer { gradient in
        StridedLoops.weightedSumBackward(
          shape: shape, gradient: gradient.baseAddress! + plane, gradientStrides: destinationStrides,
          sources: offsetSources, sourceStrides: sourceStrides, weights: weights,
          gradInputs: slots.indices.map { slots[$0] + first[$0] * plane }, gradInputStrides: sourceStrides,
          needWeightGradient: true, pool: pool)
      }
      for j in sources.indices {
        assertClose(Array(UnsafeBufferPointer(start: slots[j], count: images * sourceChannels[j] * plane)), expectedGradients[j], rtol: 1e-6, atol: 0, "gradient \(j)")
        XCTAssertEqual(dots[j], expectedDots[j], accuracy: 1e-5 * max(1, abs(expectedDots[j])), "dot \(j)")
      }
      dotsByThreads.append(dots)
    }
    XCTAssertEqual(dotsByThreads[0], dotsByThreads[1], "weight gradients independent of the thread count")
  }

  func testStridedLoopsBroadcastPermuteAndReduce() {
    for threads in [1, 2] {
      let pool = WorkerPool(threadCount: threads)
      // [3, 5, 17] ∘ [5, 1] broadcast, all four operations.
      let shape = [3, 5, 17]
      let a = randomArray(3 * 5 * 17, seed: 5)
      let b = randomArray(5, seed: 6, low: 0.5, high: 2)
      var out = [Float](repeating: .nan, count: a.count)
      StridedLoops.binary(.multiply, shape: shape, a: a, aStrides: [85, 17, 1], b: b, bStrides: [0, 1, 0], out: &out, pool: pool)
      assertClose(out, a.indices.map { a[$0] * b[($0 / 17) % 5] }, rtol: 0, atol: 0)
      StridedLoops.binary(.subtract, shape: shape, a: b, aStrides: [0, 1, 0], b: a, bStrides: [85, 17, 1], out: &out, pool: pool)
      assertClose(out, a.indices.map { b[($0 / 17) % 5] - a[$0] }, rtol: 0, atol: 0)
      // Permutation [2, 0, 1] of [3, 5, 17] → [17, 3, 5].
      var permuted = [Float](repeating: .nan, count: a.count)
      StridedLoops.copy(shape: [17, 3, 5], source: a, sourceStrides: [1, 85, 17], destination: &permuted, destinationStrides: [15, 5, 1], accumulate: false, pool: pool)
      assertClose(permuted, (0..<a.count).map { i in a[(i / 15) + ((i / 5) % 3) * 85 + (i % 5) * 17] }, rtol: 0, atol: 0)
      // Reduction over axes 0 and 2 into [5].
      var sums = [Float](repeating: 0, count: 5)
      StridedLoops.copy(shape: shape, source: a, sourceStrides: [85, 17, 1], destination: &sums, destinationStrides: [0, 1, 0], accumulate: true, pool: pool)
      assertClose(sums, (0..<5).map { c in a.indices.filter { ($0 / 17) % 5 == c }.reduce(Float(0)) { $0 + a[$1] } }, rtol: 1e-5, atol: 1e-5)
    }
  }

  /// Channel slices and channel shuffles of NCHW, whose inner axes `forEachRow` merges into
  /// whole channel blocks or planes, against index loops; and the merging rule itself.
  func testStridedCopiesOverMergedAxesMatchIndexLoops() {
    let (n, c, h, w) = (3, 12, 5, 7)
    let plane = h * w
    let x = randomArray(n * c * plane, seed: 9)
    for threads in [1, 2] {
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
  }
}

/// A heap copy of `values` (the caller deallocates it).
private func copyToBuffer(_ values: [Float]) -> UnsafeMutablePointer<Float> {
  let p = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
  p.initialize(from: values, count: values.count)
  return p
}
