/// A per-channel affine map `x[n, c, …]·scale[c] + shift[c]` that a kernel applies to its input
/// as it reads it: the output of a training-mode batch normalisation with γ/β, rebuilt from the
/// normalisation's input (which its backward pass keeps anyway) instead of being stored and
/// read back.
///
/// The arithmetic is that of `BatchNormKernels.channelAffine`, a multiply and then an add
/// (never fused into one rounding), so a kernel reads the stored output's values bit for bit.
public struct ChannelAffineRead: @unchecked Sendable {
  /// `[channels]`.
  public let scale: UnsafePointer<Float>
  /// `[channels]`.
  public let shift: UnsafePointer<Float>

  public init(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
    self.scale = scale
    self.shift = shift
  }

  /// The map of one channel.
  @inline(__always)
  func coefficients(channel: Int) -> ChannelAffineCoefficients {
    ChannelAffineCoefficients(scale: scale[channel], shift: shift[channel])
  }

  /// Writes the mapped values of `input` (`[batch, channels, spatial]`) to `output`.
  public func apply(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, channels: Int,
    spatial: Int, pool: WorkerPool
  ) {
    BatchNormKernels.channelAffine(
      input: input, scale: scale, shift: shift, output: output, batch: batch, channels: channels,
      spatial: spatial, pool: pool)
  }
}

/// One channel's `x·scale + shift`.
struct ChannelAffineCoefficients {
  let scale: Float
  let shift: Float

  @inline(__always) func callAsFunction<V: SIMD>(_ x: V) -> V where V.Scalar == Float {
    x * V(repeating: scale) + V(repeating: shift)
  }
  @inline(__always) func callAsFunction(_ x: Float) -> Float { x * scale + shift }
}
