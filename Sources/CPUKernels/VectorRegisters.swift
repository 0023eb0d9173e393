import CCPUFeatures

/// The vector register file of the running CPU, which sizes the kernels' register tiles: a tile
/// of accumulators that does not fit in the registers spills to memory on every step and runs
/// several times slower (the 8×32 GEMM tile in AVX2's sixteen 8-float registers: 4× slower).
///
/// Release builds compile for the building machine's CPU (`-target-cpu native`), so the
/// registers a `SIMD16<Float>` occupies are those found here at run time.
public enum VectorRegisters {
  /// True with AVX-512 (32 registers of 16 floats: a `SIMD16<Float>` is one register); false
  /// with AVX2 (16 registers of 8 floats: a `SIMD16<Float>` takes two).
  public static let areWide: Bool = ccpufeatures_has_avx512f() != 0
}
