// PLACEHOLDER: delegates to the reference until the fast kernel lands.
public enum PointwiseConvolution {
  public static func forward(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    ReferenceConvolution.forward(g, input: input, weight: weight, output: output)
  }
  public static func backwardInput(
    _ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    ReferenceConvolution.backwardInput(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput)
  }
  public static func backwardWeight(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    ReferenceConvolution.backwardWeight(g, input: input, gradOutput: gradOutput, gradWeight: gradWeight)
  }
}
