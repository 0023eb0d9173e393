/// Fast batch-normalisation kernels over NCHW tensors (`spatial = H·W`); semantics exactly
/// those of `ReferenceBatchNorm`.
///
/// Reductions run per channel as pool tasks (no cross-thread reduction): each `(n, c)` plane is
/// summed with `SIMD16<Float>` accumulators around a shift close to the data (the channel's
/// first element for the statistics, the mean for the backward pass), and the plane sums are
/// combined in `Double`, so the result stays accurate for data far from zero.
public enum BatchNormKernels {
  /// Per-channel mean and *biased* variance over batch and spatial positions, in one read of
  /// `input`.
  ///
  /// - Parameters:
  ///   - input: `[batch, channels, spatial]`.
  ///   - mean, variance: `[channels]`, overwritten.
  public static func statistics(
    input: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
    mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    let count = Double(batch * spatial)
    pool.parallelFor(channels) { c in
      let shift = batch * spatial > 0 ? input[c * spatial] : 0
      let x = input + c * spatial
      let (sum, squares) = shiftedSums(
        x, shift, x, shift, planes: batch, planeStride: channels * spatial, count: spatial)
      let m = sum / count
      mean[c] = Float(Double(shift) + m)
      variance[c] = Float(max(0, squares / count - m * m))
    }
  }

  /// `output[n, c, s] = input[n, c, s] · scale[c] + shift[c]` (normalisation folded into an
  /// affine map: `scale = γ/√(var+ε)`, `shift = β − mean·scale`), then `· sampleScale[n]` when
  /// given (a drop-path mask). `output` may be `input`.
  ///
  /// - Parameters:
  ///   - input, output: `[batch, channels, spatial]`.
  ///   - scale, shift: `[channels]`.
  ///   - sampleScale: `[batch]`, or nil.
  public static func channelAffine(
    input: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
    sampleScale: UnsafePointer<Float>? = nil, pool: WorkerPool
  ) {
    pool.parallelChunks(batch * channels, grain: max(1, 8192 / max(spatial, 1))) { planes in
      for plane in planes {
        let (a, b) = (scale[plane % channels], shift[plane % channels])
        let (x, y) = (input + plane * spatial, output + plane * spatial)
        if let m = sampleScale?[plane / channels] {
          forEachVector(spatial) { i in
            ((SIMD16.load(x + i) * a + b) * m).store(to: y + i)
          } scalar: { i in
            y[i] = (x[i] * a + b) * m
          }
        } else {
          forEachVector(spatial) { i in
            (SIMD16.load(x + i) * a + b).store(to: y + i)
          } scalar: { i in
            y[i] = x[i] * a + b
          }
        }
      }
    }
  }

  /// Training-mode backward with batch statistics (`invStd = 1/√(var+ε)`,
  /// `x̂ = (x − mean)·invStd`, `m = batch·spatial`, `γ = 1` when `gamma` is nil):
  /// `gradBeta[c] = Σ dy`, `gradGamma[c] = Σ dy·x̂`,
  /// `dx = γ·invStd·(dy − gradBeta/m − x̂·gradGamma/m)`. Two passes over `gradOutput` and
  /// `input` per channel.
  ///
  /// - Parameters:
  ///   - gradOutput, input, gradInput: `[batch, channels, spatial]`; `gradInput` overwritten.
  ///   - mean, invStd, gamma: `[channels]`.
  ///   - gradGamma, gradBeta: `[channels]`, overwritten.
  public static func backward(
    gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
    invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>?,
    gradInput: UnsafeMutablePointer<Float>, gradGamma: UnsafeMutablePointer<Float>,
    gradBeta: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
    pool: WorkerPool
  ) {
    let count = Double(batch * spatial)
    pool.parallelFor(channels) { c in
      let mu = mean[c]
      let (sumDy, sumDyCentered) = shiftedSums(
        gradOutput + c * spatial, 0, input + c * spatial, mu, planes: batch,
        planeStride: channels * spatial, count: spatial)
      let sigma = Double(invStd[c])
      gradBeta[c] = Float(sumDy)
      gradGamma[c] = Float(sumDyCentered * sigma)
      // dx = a·dy + b·(x − mean) + d.
      let g = Double(gamma?[c] ?? 1) * sigma
      let a = Float(g)
      let b = Float(-g * sigma * sigma * sumDyCentered / count)
      let d = Float(-g * sumDy / count)
      for n in 0..<batch {
        let offset = (n * channels + c) * spatial
        let (dy, x, dx) = (gradOutput + offset, input + offset, gradInput + offset)
        forEachVector(spatial) { i in
          let centered = SIMD16.load(x + i) - mu
          (SIMD16.load(dy + i) * a + d).addingProduct(centered, SIMD16(repeating: b))
            .store(to: dx + i)
        } scalar: { i in
          dx[i] = (dy[i] * a + d) + (x[i] - mu) * b
        }
      }
    }
  }
}

/// Calls `vector(i)` for each whole `SIMD16` run of `0..<count`, then `scalar(i)` for the tail
/// (shared by the kernels of this module).
@inline(__always)
func forEachVector(_ count: Int, _ vector: (Int) -> Void, scalar: (Int) -> Void) {
  var i = 0
  while count - i >= 16 {
    vector(i)
    i += 16
  }
  while i < count {
    scalar(i)
    i += 1
  }
}

/// `(Σ (u − uShift), Σ (u − uShift)·(v − vShift))` over `planes` runs of `count` elements,
/// `planeStride` apart: `Float` vector sums over segments of at most 4096 elements (one
/// segment may span several small planes), combined in `Double`.
@inline(__always)
private func shiftedSums(
  _ u: UnsafePointer<Float>, _ uShift: Float, _ v: UnsafePointer<Float>, _ vShift: Float,
  planes: Int, planeStride: Int, count: Int
) -> (Double, Double) {
  var (first, second) = (0.0, 0.0)
  var (s0, s1, q0, q1) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
  var pending = 0
  for plane in 0..<planes {
    let (u, v) = (u + plane * planeStride, v + plane * planeStride)
    var i = 0
    while i < count {
      let (start, end) = (i, min(count, i + 4096))
      while end - i >= 32 {
        let (a0, a1) = (SIMD16.load(u + i) - uShift, SIMD16.load(u + i + 16) - uShift)
        s0 += a0
        s1 += a1
        q0.addProduct(a0, SIMD16.load(v + i) - vShift)
        q1.addProduct(a1, SIMD16.load(v + i + 16) - vShift)
        i += 32
      }
      if end - i >= 16 {
        let a = SIMD16.load(u + i) - uShift
        s0 += a
        q0.addProduct(a, SIMD16.load(v + i) - vShift)
        i += 16
      }
      while i < end {
        let a = u[i] - uShift
        s0[0] += a
        q0[0] += a * (v[i] - vShift)
        i += 1
      }
      pending += end - start
      if pending >= 4096 || plane == planes - 1 && end == count {
        first += Double((s0 + s1).sum())
        second += Double((q0 + q1).sum())
        (s0, s1, q0, q1) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        pending = 0
      }
    }
  }
  return (first, second)
}
