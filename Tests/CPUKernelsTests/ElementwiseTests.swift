import Foundation
import CPUKernels
import XCTest
import _TestSupport

/// The element-wise, reduction and flat weighted-sum kernels against `ReferenceElementwise`
/// and `ReferenceReductions`, on sizes that are not multiples of 16 (and one large enough to be
/// split across threads), on 1 and 3 threads.
final class ElementwiseTests: XCTestCase {
  static let counts = [0, 1, 15, 17, 1_000, 100_003]
  static let threadCounts = [1, 3]

  /// Uniform values in [-1, 1) with every fifth one exactly 0 (the ReLU's edge).
  private func signedData(_ count: Int, seed: UInt64) -> [Float] {
    randomArray(count, seed: seed).enumerated().map { $0.offset % 5 == 0 ? 0 : $0.element }
  }

  /// Each kernel does the same single Float operation per element as its reference, so the
  /// two agree bit for bit (`rtol` and `atol` 0).
  func testElementwiseKernelsMatchReference() {
    for threads in Self.threadCounts {
      let pool = WorkerPool(threadCount: threads)
      for n in Self.counts {
        let a = signedData(n, seed: 1)
        let b = randomArray(n, seed: 2, low: 0.5, high: 2)
        func check(
          _ name: String, fast: (UnsafeMutablePointer<Float>) -> Void,
          reference: (UnsafeMutablePointer<Float>) -> Void
        ) {
          var (actual, expected) = ([Float](repeating: .nan, count: n), [Float](repeating: .nan, count: n))
          fast(&actual)
          reference(&expected)
          assertClose(actual, expected, rtol: 0, atol: 0, "\(name) n \(n) threads \(threads)")
        }
        check("add", fast: { Elementwise.add(a, b, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.add(a, b, $0, count: n) })
        check("subtract", fast: { Elementwise.subtract(a, b, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.subtract(a, b, $0, count: n) })
        check("multiply", fast: { Elementwise.multiply(a, b, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.multiply(a, b, $0, count: n) })
        check("divide", fast: { Elementwise.divide(a, b, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.divide(a, b, $0, count: n) })
        check("affine", fast: { Elementwise.affine(a, scale: 3, shift: -1, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.affine(a, scale: 3, shift: -1, $0, count: n) })
        check("relu", fast: { Elementwise.relu(a, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.relu(a, $0, count: n) })
        check("reluBackward",
          fast: { Elementwise.reluBackward(input: a, gradOutput: b, gradInput: $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.reluBackward(input: a, gradOutput: b, gradInput: $0, count: n) })
        for f in [Activation.sigmoid, .tanh] {
          let scaled = a.map { 12 * $0 }  // saturating values too
          check("\(f)", fast: { Elementwise.activation(f, scaled, $0, count: n, pool: pool) },
            reference: { ReferenceElementwise.activation(f, scaled, $0, count: n) })
          check("\(f) backward",
            fast: { Elementwise.activationBackward(f, output: a, gradOutput: b, gradInput: $0, count: n, pool: pool) },
            reference: { ReferenceElementwise.activationBackward(f, output: a, gradOutput: b, gradInput: $0, count: n) })
        }
        check("exp", fast: { Elementwise.exp(a, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.exp(a, $0, count: n) })
        check("log", fast: { Elementwise.log(b, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.log(b, $0, count: n) })
        check("fill", fast: { Elementwise.fill($0, value: -2.5, count: n, pool: pool) },
          reference: { ReferenceElementwise.fill($0, value: -2.5, count: n) })
        check("copy", fast: { Elementwise.copy(a, $0, count: n, pool: pool) },
          reference: { ReferenceElementwise.copy(a, $0, count: n) })

        // In place: the output is the first operand.
        var (inPlace, expected) = (a, [Float](repeating: .nan, count: n))
        inPlace.withUnsafeMutableBufferPointer { x in
          Elementwise.subtract(x.baseAddress!, b, x.baseAddress!, count: n, pool: pool)
        }
        ReferenceElementwise.subtract(a, b, &expected, count: n)
        assertClose(inPlace, expected, rtol: 0, atol: 0, "in-place subtract n \(n) threads \(threads)")

        // `addScaled` has no reference (nothing above the kernels calls it): a plain loop.
        var y = b
        Elementwise.addScaled(a, alpha: 0.5, into: &y, count: n, pool: pool)
        assertClose(y, zip(a, b).map { $1 + 0.5 * $0 }, rtol: 0, atol: 0, "addScaled n \(n)")
      }
    }
  }

  /// NaN and −0 inputs, in the SIMD body and in the scalar tail: the ReLU keeps NaN (and −0,
  /// as `x < 0 ? 0 : x` does) and its gradient is 0 where the input is NaN or ±0, as the
  /// reference defines, whichever path an element takes.
  func testReluTreatsNaNAndNegativeZeroAlikeInEveryPath() {
    var x = randomArray(40, seed: 3)
    for i in [3, 35] { x[i] = .nan }
    for i in [20, 37] { x[i] = -0.0 }
    let g = randomArray(40, seed: 4, low: 0.5, high: 2)
    let pool = WorkerPool(threadCount: 1)
    var (actual, expected) = ([Float](repeating: 7, count: 40), [Float](repeating: 7, count: 40))
    Elementwise.relu(x, &actual, count: 40, pool: pool)
    ReferenceElementwise.relu(x, &expected, count: 40)
    XCTAssertEqual(actual.map(\.bitPattern), expected.map(\.bitPattern), "relu")
    XCTAssert(actual[3].isNaN && actual[35].isNaN)
    Elementwise.reluBackward(input: x, gradOutput: g, gradInput: &actual, count: 40, pool: pool)
    ReferenceElementwise.reluBackward(input: x, gradOutput: g, gradInput: &expected, count: 40)
    XCTAssertEqual(actual, expected, "reluBackward")
    XCTAssertEqual([actual[3], actual[35], actual[20], actual[37]], [0, 0, 0, 0])
  }

  /// The fast sum and dot product add in Float within blocks of at most 4096 elements (16
  /// lanes of at most 256 terms) and the reference adds every term in Double. The worst-case
  /// bound of that Float rounding is about 272·2⁻²⁴ ≈ 1.6e-5 of `Σ |term|`; rounding errors of
  /// these random-sign terms grow like √n instead: the largest error seen is 5e-8·Σ |term|,
  /// and the tolerance 1e-6·Σ |term| stays a tenth of a typical term at n = 100 003.
  func testSumAndDotMatchReference() {
    for threads in Self.threadCounts {
      let pool = WorkerPool(threadCount: threads)
      for n in Self.counts {
        let (a, b) = (randomArray(n, seed: 3, low: -0.5, high: 1), randomArray(n, seed: 4))
        let absA = a.map(abs)
        let absProducts = zip(a, b).map { abs($0 * $1) }
        XCTAssertEqual(
          Elementwise.sum(a, count: n, pool: pool), ReferenceReductions.sum(a, count: n),
          accuracy: 1e-6 * ReferenceReductions.sum(absA, count: n), "sum n \(n) threads \(threads)")
        XCTAssertEqual(
          Elementwise.dot(a, b, count: n, pool: pool), ReferenceReductions.dot(a, b, count: n),
          accuracy: 1e-6 * ReferenceReductions.sum(absProducts, count: n), "dot n \(n) threads \(threads)")
      }
    }
  }

  /// One NaN or infinity anywhere (vector body or tail) makes both answers false.
  func testAllFiniteMatchesReference() {
    for n in Self.counts {
      let a = randomArray(n, seed: 5)
      XCTAssertTrue(Elementwise.allFinite(a, count: n), "n \(n)")
      XCTAssertTrue(ReferenceReductions.allFinite(a, count: n), "n \(n)")
      for position in Set([0, n / 2, n - 1]) where n > 0 {
        for bad in [Float.nan, .infinity, -.infinity] {
          var x = a
          x[position] = bad
          XCTAssertFalse(Elementwise.allFinite(x, count: n), "n \(n) \(bad) at \(position)")
          XCTAssertFalse(ReferenceReductions.allFinite(x, count: n), "n \(n) \(bad) at \(position)")
        }
      }
    }
  }

  /// The flat weighted sum and its reference both add one fused multiply-add per input in
  /// input order, so they agree bit for bit, also when the output is the first input.
  func testWeightedSumMatchesReference() {
    for threads in Self.threadCounts {
      let pool = WorkerPool(threadCount: threads)
      for n in Self.counts {
        for k in [1, 4, 7] {
          let inputs = (0..<k).map { randomArray(n, seed: UInt64(10 + $0)) }
          let weights = randomArray(k, seed: 3)
          let pointers = inputs.map(copyToBuffer)
          defer { pointers.forEach { $0.deallocate() } }
          let sources = pointers.map { UnsafePointer($0) }
          var (actual, expected) = ([Float](repeating: .nan, count: n), [Float](repeating: .nan, count: n))
          Elementwise.weightedSum(sources, weights: weights, &actual, count: n, pool: pool)
          ReferenceElementwise.weightedSum(sources, weights: weights, &expected, count: n)
          assertClose(actual, expected, rtol: 0, atol: 0, "weighted sum n \(n) k \(k) threads \(threads)")

          Elementwise.weightedSum(sources, weights: weights, pointers[0], count: n, pool: pool)
          let inPlace = Array(UnsafeBufferPointer(start: pointers[0], count: n))
          assertClose(inPlace, expected, rtol: 0, atol: 0, "in-place weighted sum n \(n) k \(k) threads \(threads)")
        }
      }
    }
  }

  /// σ and tanh against double-precision formulas, including where e⁻ˣ would overflow.
  func testActivationsAgreeWithDoublePrecision() {
    let xs: [Float] = [-100, -30, -5, -1e-3, 0, 1e-3, 0.5, 5, 30, 100]
    for x in xs {
      let d = Double(x)
      XCTAssertEqual(Double(Activation.sigmoid.value(x)), 1 / (1 + Foundation.exp(-d)), accuracy: 1e-7 * max(1e-30, 1 / (1 + Foundation.exp(-d))) + 1e-38, "σ(\(x))")
      XCTAssertEqual(Double(Activation.tanh.value(x)), Foundation.tanh(d), accuracy: 2e-7, "tanh(\(x))")
    }
    XCTAssertEqual(Activation.sigmoid.value(-100), Float(1 / (1 + Foundation.exp(100.0))))
    XCTAssertEqual(Activation.sigmoid.derivative(output: 0.25), 0.1875)
    XCTAssertEqual(Activation.tanh.derivative(output: 0.5), 0.75)
  }

  /// Row gathers and scatter-adds against the reference, with repeated rows, on 1 and 3
  /// threads: bit for bit (the scatter sums each repeated row in index order).
  func testRowGatherAndScatterAddMatchReference() {
    for threads in Self.threadCounts {
      let pool = WorkerPool(threadCount: threads)
      for (rows, width, count) in [(7, 5, 0), (7, 5, 40), (50, 300, 2_000), (3, 130, 9)] {
        let table = randomArray(rows * width, seed: 5)
        let indices = (0..<count).map { ($0 * 7 + $0 / 3) % rows }
        var (actual, expected) = ([Float](repeating: .nan, count: count * width), [Float](repeating: .nan, count: count * width))
        RowGather.gather(table: table, rowLength: width, indices: indices, out: &actual, pool: pool)
        ReferenceRowGather.gather(table: table, rowLength: width, indices: indices, out: &expected)
        XCTAssertEqual(actual, expected, "gather \(rows)×\(width) \(count) threads \(threads)")
        let gradient = randomArray(count * width, seed: 6)
        var (sums, expectedSums) = (table, table)
        RowGather.scatterAdd(rows: gradient, rowLength: width, indices: indices, into: &sums, pool: pool)
        ReferenceRowGather.scatterAdd(rows: gradient, rowLength: width, indices: indices, into: &expectedSums)
        XCTAssertEqual(sums.map(\.bitPattern), expectedSums.map(\.bitPattern), "scatter-add \(rows)×\(width) \(count) threads \(threads)")
      }
    }
  }
}
