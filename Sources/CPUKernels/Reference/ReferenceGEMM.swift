/// Plain-loop matrix product: the definition the fast GEMM is tested against.
public enum ReferenceGEMM {
  /// `C = op(A)·op(B)` (or `C += …` when `accumulate`), row-major with leading dimensions;
  /// `op(A)` is `m×k` (A stored `k×m` when `transposeA`), `op(B)` is `k×n`
  /// (B stored `n×k` when `transposeB`). Sums are accumulated in `Double`.
  public static func multiply(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
  ) {
    for i in 0..<m {
      for j in 0..<n {
        var sum = 0.0
        for p in 0..<k {
          let av = transposeA ? a[p * lda + i] : a[i * lda + p]
          let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
          sum += Double(av) * Double(bv)
        }
        c[i * ldc + j] = accumulate ? c[i * ldc + j] + Float(sum) : Float(sum)
      }
    }
  }
}
