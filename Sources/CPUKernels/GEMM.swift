// PLACEHOLDER: delegates to the reference until the fast kernel lands.
/// Fast single-precision matrix product; semantics exactly those of `ReferenceGEMM`.
public enum GEMM {
  public static func multiply(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, pool: WorkerPool
  ) {
    ReferenceGEMM.multiply(
      m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
      transposeB: transposeB, c: c, ldc: ldc, accumulate: accumulate)
  }
}
