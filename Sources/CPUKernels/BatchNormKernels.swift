// PLACEHOLDER: delegates to the reference until the fast kernels land.
/// Fast batch-normalisation kernels; semantics exactly those of `ReferenceBatchNorm`.
public enum BatchNormKernels {
  public static func statistics(
    input: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
    mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    ReferenceBatchNorm.statistics(
      input: input, batch: batch, channels: channels, spatial: spatial, mean: mean,
      variance: variance)
  }
  public static func channelAffine(
    input: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
    pool: WorkerPool
  ) {
    ReferenceBatchNorm.channelAffine(
      input: input, scale: scale, shift: shift, output: output, batch: batch, channels: channels,
      spatial: spatial)
  }
  public static func backward(
    gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>,
    invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>?,
    gradInput: UnsafeMutablePointer<Float>, gradGamma: UnsafeMutablePointer<Float>,
    gradBeta: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
    pool: WorkerPool
  ) {
    ReferenceBatchNorm.backward(
      gradOutput: gradOutput, input: input, mean: mean, invStd: invStd, gamma: gamma,
      gradInput: gradInput, gradGamma: gradGamma, gradBeta: gradBeta, batch: batch,
      channels: channels, spatial: spatial)
  }
}
