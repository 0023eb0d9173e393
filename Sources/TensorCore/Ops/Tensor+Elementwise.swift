/// Broadcasting follows NumPy/PyTorch: shapes are aligned at the last axis and an axis of
/// extent 1 (or a missing axis) stretches to the other operand's extent.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
  let rank = max(a.count, b.count)
  return (0..<rank).map { i in
    let x = i - (rank - a.count) >= 0 ? a[i - (rank - a.count)] : 1
    let y = i - (rank - b.count) >= 0 ? b[i - (rank - b.count)] : 1
    precondition(x == y || x == 1 || y == 1, "shapes \(a) and \(b) do not broadcast")
    return max(x, y)
  }
}

/// Element strides that read a contiguous tensor of `shape` as if it had `target` shape
/// (0 on broadcast axes).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
  let own = contiguousStrides(shape)
  let offset = target.count - shape.count
  return (0..<target.count).map { i in
    let k = i - offset
    return k >= 0 && shape[k] == target[i] && shape[k] != 1 ? own[k] : 0
  }
}

extension Tensor {
  // MARK: Binary arithmetic with broadcasting

  // NOTE: a backward rule captures an operand only where it needs its values: a sum keeps its
  // operands' shapes, and a product keeps one factor only when the other needs a gradient. The
  // drop-path product x·mask therefore keeps the mask alone, and the node sums of a cell keep
  // nothing, so those activations are freed as soon as the forward pass is done with them.

  public static func + (a: Tensor, b: Tensor) -> Tensor {
    let out = binary(.add, a, b)
    let (aShape, bShape) = (a.shape, b.shape)
    return recorded(out, name: "add", inputs: [a, b]) { g, needed in
      [needed[0] ? g.summed(toShape: aShape) : nil, needed[1] ? g.summed(toShape: bShape) : nil]
    }
  }

  public static func - (a: Tensor, b: Tensor) -> Tensor {
    let out = binary(.subtract, a, b)
    let (aShape, bShape) = (a.shape, b.shape)
    return recorded(out, name: "subtract", inputs: [a, b]) { g, needed in
      [needed[0] ? g.summed(toShape: aShape) : nil, needed[1] ? (g * -1).summed(toShape: bShape) : nil]
    }
  }

  public static func * (a: Tensor, b: Tensor) -> Tensor {
    let out = binary(.multiply, a, b)
    let (aShape, bShape) = (a.shape, b.shape)
    let (keptA, keptB) = (b.requiresGradient ? a : nil, a.requiresGradient ? b : nil)
    return recorded(out, name: "multiply", inputs: [a, b]) { g, needed in
      [
        needed[0] ? productGradient(g, other: keptB!, shape: aShape) : nil,
        needed[1] ? productGradient(g, other: keptA!, shape: bShape) : nil,
      ]
    }
  }

  public static func / (a: Tensor, b: Tensor) -> Tensor {
    let out = binary(.divide, a, b)
    let aShape = a.shape
    let keptA = b.requiresGradient ? a : nil
    return recorded(out, name: "divide", inputs: [a, b]) { g, needed in
      [
        needed[0] ? (g / b).summed(toShape: aShape) : nil,
        needed[1] ? (g * keptA! / (b * b) * -1).summed(toShape: b.shape) : nil,
      ]
    }
  }

  /// `Σ_broadcast(g · other)` reduced to `shape`; a scalar operand (the architecture weight
  /// of a mixed-op branch) is a single dot product, without a temporary.
  private static func productGradient(_ g: Tensor, other: Tensor, shape: [Int]) -> Tensor {
    if shape.reduce(1, *) == 1 && other.shape == g.shape {
      let value = g.backend.dot(g.storage, other.storage, count: g.count)
      return Tensor(shape: shape, scalars: [Float(value)], on: g.backend)
    }
    return (g * other).summed(toShape: shape)
  }

  private static func binary(_ operation: BinaryOperation, _ a: Tensor, _ b: Tensor) -> Tensor {
    let shape = broadcastShape(a.shape, b.shape)
    let backend = sharedBackend(of: [a, b])
    let out = Tensor.uninitialized(shape, on: backend)
    if a.shape == b.shape {
      backend.binary(operation, a.storage, b.storage, out: out.storage, count: out.count)
    } else {
      backend.stridedBinary(
        operation, shape: shape, a: a.storage, aStrides: broadcastStrides(a.shape, to: shape),
        b: b.storage, bStrides: broadcastStrides(b.shape, to: shape), out: out.storage)
    }
    return out
  }

  // MARK: Scalar arithmetic

  /// `x · s + t` for constants `s`, `t`.
  public func affine(scale: Float, shift: Float = 0) -> Tensor {
    let out = Tensor.uninitialized(shape, on: backend)
    backend.affine(storage, scale: scale, shift: shift, out: out.storage, count: count)
    return Tensor.recorded(out, name: "affine", inputs: [self]) { g, _ in [g.affine(scale: scale)] }
  }

  public static func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s) }
  public static func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s) }
  public static func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
  public static func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
  public static prefix func - (a: Tensor) -> Tensor { a.affine(scale: -1) }

  // MARK: Unary functions

  /// `max(x, 0)`; the gradient at exactly 0 is 0, as in PyTorch.
  public func relu() -> Tensor {
    let out = Tensor.uninitialized(shape, on: backend)
    backend.relu(storage, out: out.storage, count: count)
    let (inputShape, savedInput) = (shape, SavedActivation(self))
    return Tensor.recorded(out, name: "relu", inputs: [self]) { g, _ in
      let dx = Tensor.uninitialized(inputShape, on: g.backend)
      g.backend.reluBackward(input: savedInput.values(), gradOutput: g.storage, gradInput: dx.storage, count: g.count)
      return [dx]
    }
  }

  /// `σ(x) = 1/(1 + e⁻ˣ)`, the gate of recurrent cells (SPEC-RNN §1).
  public func sigmoid() -> Tensor { activated(.sigmoid, name: "sigmoid") }

  /// `tanh x`, the candidate of recurrent cells (SPEC-RNN §1).
  public func tanh() -> Tensor { activated(.tanh, name: "tanh") }

  /// `f(x)`; the backward pass keeps only the output (`f′` is a function of it).
  private func activated(_ f: Activation, name: String) -> Tensor {
    let out = Tensor.uninitialized(shape, on: backend)
    backend.activation(f, storage, out: out.storage, count: count)
    let saved = out
    return Tensor.recorded(out, name: name, inputs: [self]) { g, _ in
      let dx = Tensor.uninitialized(saved.shape, on: g.backend)
      g.backend.activationBackward(f, output: saved.storage, gradOutput: g.storage, gradInput: dx.storage, count: g.count)
      return [dx]
    }
  }

  /// `eˣ`.
  public func exp() -> Tensor {
    let out = Tensor.uninitialized(shape, on: backend)
    backend.exp(storage, out: out.storage, count: count)
    let saved = out
    return Tensor.recorded(out, name: "exp", inputs: [self]) { g, _ in [g * saved] }
  }

  /// Natural logarithm.
  public func log() -> Tensor {
    let out = Tensor.uninitialized(shape, on: backend)
    backend.log(storage, out: out.storage, count: count)
    return Tensor.recorded(out, name: "log", inputs: [self]) { g, _ in [g / self] }
  }
}
