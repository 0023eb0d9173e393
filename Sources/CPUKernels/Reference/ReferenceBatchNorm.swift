/// Plain-loop batch normalisation over NCHW tensors (`spatial = H·W`): the definition the fast
/// batch-norm kernels are tested against, and the one implementation of the per-channel
/// coefficients (`[C]`-sized, no fast version). Statistics are accumulated in `Double`.
public enum ReferenceBatchNorm {
  /// Per-channel mean and *biased* variance over batch and spatial positions.
  public static func statistics(
    input: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
    mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>
  ) {
    let count = Double(batch * spatial)
    for c in 0..<channels {
      var sum = 0.0
      forEach(batch, channels, spatial, c) { sum += Double(input[$0]) }
      let m = sum / count
      var squares = 0.0
      forEach(batch, channels, spatial, c) {
        let d = Double(input[$0]) - m
        squares += d * d
      }
      mean[c] = Float(m)
      variance[c] = Float(squares / count)
    }
  }

  /// The per-channel coefficients of batch normalisation folded into an affine map, for each
  /// channel `k` in `0..<channels`: `invStd[k] = 1/√(variance[k] + epsilon)`,
  /// `scale[k] = γ[k]·invStd[k]` and `shift[k] = β[k] − mean[k]·scale[k]`, with `γ = 1` when
  /// `gamma` is nil and `β = 0` when `beta` is nil. In Float, in that order (square root, then
  /// one division), so a caller that evaluates the same expressions gets the same bits.
  /// Overwrites `invStd`, `scale` and `shift`.
  public static func coefficients(
    mean: UnsafePointer<Float>, variance: UnsafePointer<Float>, gamma: UnsafePointer<Float>?,
    beta: UnsafePointer<Float>?, epsilon: Float, channels: Int, invStd: UnsafeMutablePointer<Float>,
    scale: UnsafeMutablePointer<Float>, shift: UnsafeMutablePointer<Float>
  ) {
    for k in 0..<channels {
      let inv = 1 / (variance[k] + epsilon).squareRoot()
      invStd[k] = inv
      let s = (gamma?[k] ?? 1) * inv
      scale[k] = s
      shift[k] = (beta?[k] ?? 0) - mean[k] * s
    }
  }

  /// `output[n, c, s] = input[n, c, s] · scale[c] + shift[c]` (normalisation folded into an
  /// affine map: `scale = γ/√(var+ε)`, `shift = β − mean·scale`), then `· sampleScale[n]`
  /// when given.
  public static func channelAffine(
    input: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
    sampleScale: UnsafePointer<Float>? = nil
  ) {
    for c in 0..<channels {
      forEach(batch, channels, spatial, c) { output[$0] = input[$0] * scale[c] + shift[c] }
    }
    if let sampleScale {
      for i in 0..<(batch * channels * spatial) { output[i] *= sampleScale[i / (channels * spatial)] }
    }
  }

  /// Training-mode backward with batch statistics (`invStd = 1/√(var+ε)`, `x̂ = (x−mean)·invStd`):
  /// `gradBeta[c] = Σ dy`, `gradGamma[c] = Σ dy·x̂`,
  /// `dx = γ·invStd·(dy − gradBeta/m − x̂·gradGamma/m)` with `m = batch·spatial` and `γ = 1` when
  /// `gamma` is nil. Overwrites all three outputs.
  public static func backward(
    gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
    invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>?,
    gradInput: UnsafeMutablePointer<Float>, gradGamma: UnsafeMutablePointer<Float>,
    gradBeta: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int
  ) {
    let count = Double(batch * spatial)
    for c in 0..<channels {
      var sumDy = 0.0
      var sumDyXhat = 0.0
      forEach(batch, channels, spatial, c) {
        let xhat = Double(input[$0] - mean[c]) * Double(invStd[c])
        sumDy += Double(gradOutput[$0])
        sumDyXhat += Double(gradOutput[$0]) * xhat
      }
      gradBeta[c] = Float(sumDy)
      gradGamma[c] = Float(sumDyXhat)
      let g = Double(gamma?[c] ?? 1) * Double(invStd[c])
      forEach(batch, channels, spatial, c) {
        let xhat = Double(input[$0] - mean[c]) * Double(invStd[c])
        gradInput[$0] = Float(g * (Double(gradOutput[$0]) - sumDy / count - xhat * sumDyXhat / count))
      }
    }
  }

  private static func forEach(_ batch: Int, _ channels: Int, _ spatial: Int, _ c: Int, _ body: (Int) -> Void) {
    for n in 0..<batch {
      let base = (n * channels + c) * spatial
      for s in 0..<spatial { body(base + s) }
    }
  }
}
