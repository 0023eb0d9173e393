/// Fast batch-normalisation kernels over NCHW tensors (`spatial = H·W`); semantics exactly
/// those of `ReferenceBatchNorm`.
///
/// The per-channel reductions read memory in order: the batch is cut into work items of a few
/// images (and, for planes of more than 64 Ki elements, of a few channels), fixed by the shape
/// alone, and each item sums every `(n, c)` plane it holds with `SIMD16<Float>` accumulators
/// around a shift close to the data (the channel's first element for the statistics, the mean
/// for the backward pass) into `Double` per-channel partial sums; the partials are added in item
/// order. So the result stays accurate for data far from zero, does not depend on the thread
/// count, and the small planes of the last cells (8×8 = 256 bytes) are no longer read one per
/// channel stride apart. The element-wise passes run over contiguous plane ranges.
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
    if channels <= 0 { return }
    let count = Double(batch * spatial)
    let shifts = (0..<channels).map { c in batch * spatial > 0 ? input[c * spatial] : 0 }
    shifts.withUnsafeBufferPointer { shift in
      channelSums(input, shift.baseAddress, input, shift.baseAddress!, batch: batch, channels: channels, spatial: spatial, pool: pool) {
        c, sum, squares in
        let m = sum / count
        mean[c] = Float(Double(shift[c]) + m)
        variance[c] = Float(max(0, squares / count - m * m))
      }
    }
  }

  /// `output[n, c, s] = input[n, c, s] · scale[c] + shift[c]` (normalisation folded into an
  /// affine map: `scale = γ/√(var+ε)`, `shift = β − mean·scale`). `output` may be `input`.
  ///
  /// - Parameters:
  ///   - input, output: `[batch, channels, spatial]`.
  ///   - scale, shift: `[channels]`.
  public static func channelAffine(
    input: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
    pool: WorkerPool
  ) {
    pool.parallelChunks(batch * channels, grain: max(1, 8192 / max(spatial, 1))) { planes in
      for plane in planes {
        let (a, b) = (scale[plane % channels], shift[plane % channels])
        let (x, y) = (input + plane * spatial, output + plane * spatial)
        forEachVector(spatial) { i in
          (SIMD16.load(x + i) * a + b).store(to: y + i)
        } scalar: { i in
          y[i] = x[i] * a + b
        }
      }
    }
  }

  /// Training-mode backward with batch statistics (`invStd = 1/√(var+ε)`,
  /// `x̂ = (x − mean)·invStd`, `m = batch·spatial`, `γ = 1` when `gamma` is nil):
  /// `gradBeta[c] = Σ dy`, `gradGamma[c] = Σ dy·x̂`,
  /// `dx = γ·invStd·(dy − gradBeta/m − x̂·gradGamma/m)`. Two passes over `gradOutput` and
  /// `input`: the sums, then `dx`.
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
    // dx = a·dy + b·(x − mean) + d, per channel.
    var coefficients = [Float](repeating: 0, count: 3 * channels)
    coefficients.withUnsafeMutableBufferPointer { abd in
      channelSums(gradOutput, nil, input, mean, batch: batch, channels: channels, spatial: spatial, pool: pool) {
        c, sumDy, sumDyCentered in
        let sigma = Double(invStd[c])
        gradBeta[c] = Float(sumDy)
        gradGamma[c] = Float(sumDyCentered * sigma)
        let g = Double(gamma?[c] ?? 1) * sigma
        abd[3 * c] = Float(g)
        abd[3 * c + 1] = Float(-g * sigma * sigma * sumDyCentered / count)
        abd[3 * c + 2] = Float(-g * sumDy / count)
      }
    }
    coefficients.withUnsafeBufferPointer { abd in
      pool.parallelChunks(batch * channels, grain: max(1, 8192 / max(spatial, 1))) { planes in
        for plane in planes {
          let c = plane % channels
          let (a, b, d, mu) = (abd[3 * c], abd[3 * c + 1], abd[3 * c + 2], mean[c])
          let offset = plane * spatial
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

  /// Calls `result(c, Σ (u − uShift[c]), Σ (u − uShift[c])·(v − vShift[c]))` for every channel
  /// (sums over batch and spatial positions; `uShift` nil is 0), from the per-item partial sums
  /// described on the type, added in item order.
  private static func channelSums(
    _ u: UnsafePointer<Float>, _ uShift: UnsafePointer<Float>?, _ v: UnsafePointer<Float>,
    _ vShift: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, pool: WorkerPool,
    _ result: (_ channel: Int, _ first: Double, _ second: Double) -> Void
  ) {
    let itemElements = 1 << 16
    let imagesPerItem = max(1, min(batch, itemElements / max(1, channels * spatial)))
    let channelsPerItem = imagesPerItem > 1 ? channels : max(1, min(channels, itemElements / max(1, spatial)))
    let imageChunks = (batch + imagesPerItem - 1) / imagesPerItem
    let channelChunks = (channels + channelsPerItem - 1) / channelsPerItem
    // Partial sums of image chunk i, channel c at 2·(i·channels + c); each item writes its own.
    let partials = UnsafeMutablePointer<Double>.allocate(capacity: 2 * imageChunks * channels)
    defer { partials.deallocate() }
    pool.parallelFor(imageChunks * channelChunks) { item in
      let (imageChunk, channelChunk) = (item / channelChunks, item % channelChunks)
      let images = (imageChunk * imagesPerItem)..<min(batch, (imageChunk + 1) * imagesPerItem)
      let itemChannels = (channelChunk * channelsPerItem)..<min(channels, (channelChunk + 1) * channelsPerItem)
      let sums = partials + 2 * imageChunk * channels
      for c in itemChannels { (sums[2 * c], sums[2 * c + 1]) = (0, 0) }
      for n in images {
        for c in itemChannels {
          let offset = (n * channels + c) * spatial
          let (first, second) = shiftedSums(u + offset, uShift?[c] ?? 0, v + offset, vShift[c], count: spatial)
          sums[2 * c] += first
          sums[2 * c + 1] += second
        }
      }
    }
    for c in 0..<channels {
      var (first, second) = (0.0, 0.0)
      for chunk in 0..<imageChunks {
        first += partials[2 * (chunk * channels + c)]
        second += partials[2 * (chunk * channels + c) + 1]
      }
      result(c, first, second)
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

/// `(Σ (u − uShift), Σ (u − uShift)·(v − vShift))` over `count` elements: `Float` vector sums
/// over segments of at most 4096 elements, combined in `Double`.
@inline(__always)
private func shiftedSums(
  _ u: UnsafePointer<Float>, _ uShift: Float, _ v: UnsafePointer<Float>, _ vShift: Float, count: Int
) -> (Double, Double) {
  var (first, second) = (0.0, 0.0)
  var i = 0
  while i < count {
    let end = min(count, i + 4096)
    var (s0, s1, q0, q1) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
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
    first += Double((s0 + s1).sum())
    second += Double((q0 + q1).sum())
  }
  return (first, second)
}
