/// Fast 2-D convolution over NCHW tensors: chooses the kernel family for a geometry.
///
/// * pointwise (1×1, no padding, one group, any stride): a GEMM per image
///   (`PointwiseConvolution`);
/// * depthwise (one channel per group, any kernel, stride, padding and dilation):
///   direct SIMD loops (`DepthwiseConvolution`);
/// * everything else (stems, 2×2, 1×7/7×1, grouped): im2col + GEMM (`GeneralConvolution`).
///
/// Semantics are exactly those of `ReferenceConvolution`; outputs are overwritten.
/// `rectifiedInput` (pointwise and depthwise only) convolves `max(input, 0)` without forming it;
/// `inputAffine` (depthwise only) convolves the input mapped per channel, before the ReLU.
public enum Convolution {
  /// Whether `rectifiedInput` is supported for `g`: the ReLU is fused into the kernel.
  public static func fusesRectification(_ g: ConvolutionGeometry) -> Bool { g.isPointwise || g.isDepthwise }

  /// Whether `inputAffine` is supported for `g`: the per-channel map is fused into the kernel.
  public static func fusesChannelAffine(_ g: ConvolutionGeometry) -> Bool { g.isDepthwise }

  public static func forward(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, pool: WorkerPool, rectifiedInput: Bool = false,
    inputAffine: ChannelAffineRead? = nil
  ) {
    precondition(!rectifiedInput || fusesRectification(g), "no fused ReLU for \(g)")
    precondition(inputAffine == nil || fusesChannelAffine(g), "no fused channel map for \(g)")
    if g.isPointwise {
      PointwiseConvolution.forward(g, input: input, weight: weight, output: output, pool: pool, rectifiedInput: rectifiedInput)
    } else if g.isDepthwise {
      DepthwiseConvolution.forward(
        g, input: input, weight: weight, output: output, pool: pool, rectifiedInput: rectifiedInput, inputAffine: inputAffine)
    } else {
      GeneralConvolution.forward(g, input: input, weight: weight, output: output, pool: pool)
    }
  }

  public static func backwardInput(
    _ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    if g.isPointwise {
      PointwiseConvolution.backwardInput(
        g, gradOutput: gradOutput, weight: weight, gradInput: gradInput, pool: pool)
    } else if g.isDepthwise {
      DepthwiseConvolution.backwardInput(
        g, gradOutput: gradOutput, weight: weight, gradInput: gradInput, pool: pool)
    } else {
      GeneralConvolution.backwardInput(
        g, gradOutput: gradOutput, weight: weight, gradInput: gradInput, pool: pool)
    }
  }

  public static func backwardWeight(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>, pool: WorkerPool, rectifiedInput: Bool = false,
    inputAffine: ChannelAffineRead? = nil
  ) {
    precondition(!rectifiedInput || fusesRectification(g), "no fused ReLU for \(g)")
    precondition(inputAffine == nil || fusesChannelAffine(g), "no fused channel map for \(g)")
    if g.isPointwise {
      PointwiseConvolution.backwardWeight(
        g, input: input, gradOutput: gradOutput, gradWeight: gradWeight, pool: pool, rectifiedInput: rectifiedInput)
    } else if g.isDepthwise {
      DepthwiseConvolution.backwardWeight(
        g, input: input, gradOutput: gradOutput, gradWeight: gradWeight, pool: pool, rectifiedInput: rectifiedInput,
        inputAffine: inputAffine)
    } else {
      GeneralConvolution.backwardWeight(
        g, input: input, gradOutput: gradOutput, gradWeight: gradWeight, pool: pool)
    }
  }
}
