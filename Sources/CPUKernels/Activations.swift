import Foundation

/// The smooth activations of recurrent cells (SPEC-RNN §1): `σ(x) = 1/(1 + e⁻ˣ)` and `tanh x`,
/// with their derivatives written in terms of the output `y` (`y(1 − y)` and `1 − y²`), which is
/// what the backward pass keeps.
public enum Activation: Sendable, Hashable {
  case sigmoid
  case tanh

  /// `σ(x)` (through `e^{−|x|}`, which never overflows) or `tanh x` (Foundation's `tanhf`).
  @inline(__always)
  public func value(_ x: Float) -> Float {
    switch self {
    case .sigmoid:
      let e = Foundation.exp(-Swift.abs(x))
      return x >= 0 ? 1 / (1 + e) : e / (1 + e)
    case .tanh:
      return Foundation.tanh(x)
    }
  }

  /// `dy/dx` at the point whose output is `y`.
  @inline(__always)
  public func derivative(output y: Float) -> Float {
    switch self {
    case .sigmoid: y * (1 - y)
    case .tanh: 1 - y * y
    }
  }
}

extension Elementwise {
  /// `out[i] = f(x[i])` for the activation `f`, in parallel chunks (scalar `expf`/`tanhf`;
  /// the same values as `ReferenceElementwise.activation`).
  public static func activation(
    _ f: Activation, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, pool: WorkerPool
  ) {
    let (xs, os) = (UnsafeSendable(x), UnsafeSendable(UnsafePointer(out)))
    pool.parallelChunks(count, grain: grain / 8) { range in
      let (x, out) = (xs.pointer, UnsafeMutablePointer(mutating: os.pointer))
      for i in range { out[i] = f.value(x[i]) }
    }
  }

  /// `gradInput[i] = gradOutput[i]·f′` at the output `output[i]`. `gradInput` may be
  /// `gradOutput`.
  public static func activationBackward(
    _ f: Activation, output: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, count: Int, pool: WorkerPool
  ) {
    zip(output, gradOutput, gradInput, count: count, pool: pool,
      vector: { y, g in
        switch f {
        case .sigmoid: g * (y * (1 - y))
        case .tanh: g * (1 - y * y)
        }
      },
      scalar: { y, g in g * f.derivative(output: y) })
  }
}
