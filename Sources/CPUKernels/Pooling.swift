// PLACEHOLDER: delegates to the reference until the fast kernels land.
/// Fast 2-D max and average pooling; semantics exactly those of `ReferencePooling`.
public enum Pooling {
  public static func maxForward(
    _ g: PoolGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    pool: WorkerPool
  ) {
    ReferencePooling.maxForward(g, input: input, output: output)
  }
  public static func maxBackward(
    _ g: PoolGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    ReferencePooling.maxBackward(g, input: input, gradOutput: gradOutput, gradInput: gradInput)
  }
  public static func averageForward(
    _ g: PoolGeometry, countIncludePad: Bool, input: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    ReferencePooling.averageForward(g, countIncludePad: countIncludePad, input: input, output: output)
  }
  public static func averageBackward(
    _ g: PoolGeometry, countIncludePad: Bool, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    ReferencePooling.averageBackward(
      g, countIncludePad: countIncludePad, gradOutput: gradOutput, gradInput: gradInput)
  }
}
