import Foundation

/// Plain-loop element-wise kernels over contiguous float buffers: the definition the fast
/// `Elementwise` kernels are tested against. One thread, one element per loop iteration, the
/// same arguments as the fast kernels less the worker pool. An output may be the same buffer as
/// an input (each element is read before it is written); partial overlaps are not allowed.
public enum ReferenceElementwise {
  /// `out[i] = a[i] + b[i]` for `i` in `0..<count`.
  public static func add(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int
  ) {
    zip(a, b, out, count: count, +)
  }

  /// `out[i] = a[i] − b[i]`.
  public static func subtract(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int
  ) {
    zip(a, b, out, count: count, -)
  }

  /// `out[i] = a[i]·b[i]`.
  public static func multiply(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int
  ) {
    zip(a, b, out, count: count, *)
  }

  /// `out[i] = a[i] / b[i]` (IEEE division: ±∞ or NaN where `b[i]` is 0).
  public static func divide(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int
  ) {
    zip(a, b, out, count: count, /)
  }

  /// `out[i] = x[i]·scale + shift` (a multiply, then an add: not fused).
  public static func affine(
    _ x: UnsafePointer<Float>, scale: Float, shift: Float, _ out: UnsafeMutablePointer<Float>, count: Int
  ) {
    for i in 0..<count { out[i] = x[i] * scale + shift }
  }

  /// `out[i] = max(x[i], 0)`; a NaN stays NaN.
  public static func relu(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = x[i] < 0 ? 0 : x[i] }
  }

  /// The ReLU gradient: `gradInput[i] = x[i] > 0 ? gradOutput[i] : 0` (0 at `x = 0`, as in
  /// PyTorch). `gradInput` may be `gradOutput`.
  public static func reluBackward(
    input x: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, count: Int
  ) {
    zip(x, gradOutput, gradInput, count: count) { x, g in x > 0 ? g : 0 }
  }

  /// `out[i] = f(x[i])` for a recurrent cell's activation (`Activation.value`).
  public static func activation(_ f: Activation, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = f.value(x[i]) }
  }

  /// `gradInput[i] = gradOutput[i]·f′`, the derivative taken at the output `output[i]`
  /// (`Activation.derivative`). `gradInput` may be `gradOutput`.
  public static func activationBackward(
    _ f: Activation, output: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, count: Int
  ) {
    zip(output, gradOutput, gradInput, count: count) { y, g in g * f.derivative(output: y) }
  }

  /// `out[i] = exp(x[i])` (Foundation's single-precision `exp`).
  public static func exp(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = Foundation.exp(x[i]) }
  }

  /// `out[i] = log(x[i])` (Foundation's single-precision `log`; NaN below 0, −∞ at 0).
  public static func log(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = Foundation.log(x[i]) }
  }

  /// `out[i] = value` for `i` in `0..<count`.
  public static func fill(_ out: UnsafeMutablePointer<Float>, value: Float, count: Int) {
    for i in 0..<count { out[i] = value }
  }

  /// `destination[i] = source[i]` for `i` in `0..<count` (the buffers do not overlap).
  public static func copy(
    _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, count: Int
  ) {
    for i in 0..<count { destination[i] = source[i] }
  }

  /// `out[i] = Σ_k weights[k]·inputs[k][i]`, summed in input order from 0 with one fused
  /// multiply-add per input (`a ← fma(weights[k], inputs[k][i], a)`), so the fast kernel, which
  /// does the same lane-wise, agrees bit for bit. Needs at least one input and one weight per
  /// input; `out` may be one of the inputs.
  public static func weightedSum(
    _ inputs: [UnsafePointer<Float>], weights: [Float], _ out: UnsafeMutablePointer<Float>, count: Int
  ) {
    precondition(inputs.count == weights.count && !inputs.isEmpty, "weighted sum needs one weight per input")
    for i in 0..<count {
      var total: Float = 0
      for k in inputs.indices { total = total.addingProduct(weights[k], inputs[k][i]) }
      out[i] = total
    }
  }

  /// One step of an exponential running average, in place:
  /// `running[i] = (1 − momentum)·running[i] + momentum·batch[i]·scale`, evaluated left to right
  /// in Float with separate multiplies and adds (PyTorch's BatchNorm update of `running_mean`,
  /// `scale` 1, and of `running_var`, `scale` the `n/(n−1)` unbiasing factor).
  public static func runningAverage(
    _ running: UnsafeMutablePointer<Float>, toward batch: UnsafePointer<Float>, count: Int,
    momentum: Float, scale: Float
  ) {
    for i in 0..<count { running[i] = (1 - momentum) * running[i] + momentum * batch[i] * scale }
  }

  /// `out[i] = f(a[i], b[i])`.
  private static func zip(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int,
    _ f: (Float, Float) -> Float
  ) {
    for i in 0..<count { out[i] = f(a[i], b[i]) }
  }
}

/// Plain-loop row lookups: the definition `RowGather` is tested against.
public enum ReferenceRowGather {
  /// `out[i, :] = table[indices[i], :]`.
  public static func gather(table: UnsafePointer<Float>, rowLength: Int, indices: [Int], out: UnsafeMutablePointer<Float>) {
    for (i, row) in indices.enumerated() {
      for c in 0..<rowLength { out[i * rowLength + c] = table[row * rowLength + c] }
    }
  }

  /// `table[indices[i], :] += rows[i, :]`, `i` in increasing order.
  public static func scatterAdd(rows: UnsafePointer<Float>, rowLength: Int, indices: [Int], into table: UnsafeMutablePointer<Float>) {
    for (i, row) in indices.enumerated() {
      for c in 0..<rowLength { table[row * rowLength + c] += rows[i * rowLength + c] }
    }
  }
}
