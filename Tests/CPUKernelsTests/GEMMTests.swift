import CPUKernels
import XCTest
import _TestSupport

final class GEMMTests: XCTestCase {
  /// Shapes around the kernel's tiles (8×32, 6×16), depth block (256) and column block (512, or 1024
  /// for at least 32 rows and 32 to 144 deep) sizes.
  private let shapes: [(m: Int, n: Int, k: Int)] = [
    (1, 1, 1), (1, 37, 5), (17, 1, 9), (8, 32, 16), (13, 29, 7), (33, 65, 300), (9, 530, 3),
    (33, 1100, 144), (40, 1100, 145), (31, 1100, 36), (33, 1100, 31), (6, 16, 5), (7, 17, 20),
  ]

  /// Runs one product through `GEMM.multiply` with both register tiles (8×32 and 6×16) on 1, 2
  /// and 3 threads (the same bits on each) and compares it with `ReferenceGEMM`; every matrix
  /// gets a leading dimension `pad` elements wider than its rows.
  private func check(
    m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool, pad: Int,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    let (aRows, aCols) = transposeA ? (k, m) : (m, k)
    let (bRows, bCols) = transposeB ? (n, k) : (k, n)
    let (lda, ldb, ldc) = (aCols + pad, bCols + pad, n + pad)
    let a = randomArray(aRows * lda, seed: 1)
    let b = randomArray(bRows * ldb, seed: 2)
    let c0 = randomArray(m * ldc, seed: 3)
    var expected = c0
    ReferenceGEMM.multiply(
      m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
      transposeB: transposeB, c: &expected, ldc: ldc, accumulate: accumulate)
    for wide in [false, true] {
      var results: [[Float]] = []
      for threads in [1, 2, 3] {
        let pool = WorkerPool(threadCount: threads)
        var actual = c0
        GEMM.multiply(
          m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
          transposeB: transposeB, c: &actual, ldc: ldc, accumulate: accumulate, pool: pool, wideRegisters: wide)
        assertClose(
          actual, expected, rtol: 1e-4, atol: 1e-4,
          "m\(m) n\(n) k\(k) tA \(transposeA) tB \(transposeB) acc \(accumulate) threads \(threads) wide \(wide)",
          file: file, line: line)
        results.append(actual)
      }
      // The split into tasks depends on the thread count, the sums do not.
      XCTAssertEqual(results[0], results[1], file: file, line: line)
      XCTAssertEqual(results[0], results[2], file: file, line: line)
    }
  }

  func testAllTransposeCombinationsAndShapes() {
    for (m, n, k) in shapes {
      for transposeA in [false, true] {
        for transposeB in [false, true] {
          check(
            m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: false,
            pad: 0)
        }
      }
    }
  }

  /// `rectifyB` reads B as max(B, 0): packed panels, partial panels and transposed B.
  func testRectifiedB() {
    for (m, n, k) in shapes {
      for transposeB in [false, true] {
        let (bRows, bCols) = transposeB ? (n, k) : (k, n)
        let a = randomArray(m * k, seed: 4)
        let b = randomArray(bRows * bCols, seed: 5)
        var expected = [Float](repeating: 0, count: m * n)
        ReferenceGEMM.multiply(
          m: m, n: n, k: k, a: a, lda: k, transposeA: false, b: b.map { max($0, 0) }, ldb: bCols,
          transposeB: transposeB, c: &expected, ldc: n, accumulate: false)
        for threads in [1, 2] {
          var actual = [Float](repeating: .nan, count: m * n)
          GEMM.multiplyBatched(
            batch: 1, m: m, n: n, k: k, a: a, lda: k, transposeA: false, b: b, ldb: bCols, transposeB: transposeB,
            batchStrideB: 0, c: &actual, ldc: n, batchStrideC: 0, accumulate: false, rectifyB: true,
            pool: WorkerPool(threadCount: threads))
          assertClose(actual, expected, rtol: 1e-4, atol: 1e-4, "m\(m) n\(n) k\(k) tB \(transposeB) threads \(threads)")
        }
      }
    }
  }

  func testAccumulateWithWideLeadingDimensions() {
    for (m, n, k) in shapes {
      for transposeA in [false, true] {
        for transposeB in [false, true] {
          check(
            m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: true,
            pad: 3)
        }
      }
    }
  }

  func testZeroDepthOverwritesOrKeeps() {
    let pool = WorkerPool(threadCount: 2)
    let a: [Float] = [1]
    var c: [Float] = [5, 6, 7, 8]
    GEMM.multiply(
      m: 2, n: 2, k: 0, a: a, lda: 1, transposeA: false, b: a, ldb: 2, transposeB: false,
      c: &c, ldc: 2, accumulate: true, pool: pool)
    XCTAssertEqual(c, [5, 6, 7, 8])
    GEMM.multiply(
      m: 2, n: 2, k: 0, a: a, lda: 1, transposeA: false, b: a, ldb: 2, transposeB: false,
      c: &c, ldc: 2, accumulate: false, pool: pool)
    XCTAssertEqual(c, [0, 0, 0, 0])
  }

  func testBatchedProductSharesA() {
    let (batch, m, n, k) = (3, 11, 45, 19)
    let (strideB, strideC) = (k * n + 5, m * n + 2)
    let a = randomArray(m * k, seed: 4)
    let b = randomArray(batch * strideB, seed: 5)
    let c0 = randomArray(batch * strideC, seed: 6)
    for accumulate in [false, true] {
      var expected = c0
      for i in 0..<batch {
        b.withUnsafeBufferPointer { bp in
          expected.withUnsafeMutableBufferPointer { cp in
            ReferenceGEMM.multiply(
              m: m, n: n, k: k, a: a, lda: k, transposeA: false,
              b: bp.baseAddress! + i * strideB, ldb: n, transposeB: false,
              c: cp.baseAddress! + i * strideC, ldc: n, accumulate: accumulate)
          }
        }
      }
      for threads in [1, 2] {
        var actual = c0
        GEMM.multiplyBatched(
          batch: batch, m: m, n: n, k: k, a: a, lda: k, transposeA: false,
          b: b, ldb: n, transposeB: false, batchStrideB: strideB,
          c: &actual, ldc: n, batchStrideC: strideC, accumulate: accumulate,
          pool: WorkerPool(threadCount: threads))
        assertClose(actual, expected, rtol: 1e-4, atol: 1e-4, "acc \(accumulate) threads \(threads)")
      }
    }
  }
}
