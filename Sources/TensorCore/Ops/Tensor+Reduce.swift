extension Tensor {
  /// The sum over `axes` (negative axes count from the end). Reduced axes are kept with
  /// extent 1 when `keepingDimensions`, removed otherwise.
  public func summed(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
    let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
    precondition(normalized.allSatisfy { $0 >= 0 && $0 < rank }, "axes \(axes) out of range for rank \(rank)")
    let keptShape = shape.enumerated().map { normalized.contains($0.offset) ? 1 : $0.element }
    let reduced = summed(toShape: keptShape)
    let finalShape = keepingDimensions ? keptShape : shape.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
    return reduced.reshaped(to: finalShape)
  }

  /// The sum of all elements, as a scalar tensor (shape `[]`).
  public func sum() -> Tensor { summed(toShape: []) }

  /// The mean over `axes`.
  public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
    let n = axes.map { shape[$0 < 0 ? $0 + rank : $0] }.reduce(1, *)
    return summed(alongAxes: axes, keepingDimensions: keepingDimensions) * (1 / Float(n))
  }

  /// The mean of all elements, as a scalar tensor.
  public func mean() -> Tensor { sum() * (1 / Float(count)) }

  /// `Σ_i a[i]·b[i]` over the row-major elements of two tensors of the same shape, returned as
  /// Double: float32 products and partial sums over blocks of at most 4096 elements, the blocks
  /// summed in Double (PyTorch: `torch.dot(a.flatten(), b.flatten())`, which sums in float32
  /// throughout). Not recorded for gradients; used for norms and checks, not in the graph.
  public static func dot(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "dot of tensors of shapes \(a.shape) and \(b.shape)")
    let backend = sharedBackend(of: [a, b])
    return backend.dot(a.storage, b.storage, count: a.count)
  }

  /// `Σ_i x[i]²` over all elements, summed as `Tensor.dot(self, self)` (the square of the L2
  /// norm, PyTorch's `x.pow(2).sum()`). Not recorded for gradients.
  public var sumOfSquares: Double { Tensor.dot(self, self) }

  /// Sums the axes along which `self` is a broadcast of `target` (the reverse of
  /// broadcasting). Returns `self` unchanged when the shapes already agree.
  public func summed(toShape target: [Int]) -> Tensor {
    if shape == target { return self }
    let out: Tensor
    if target.reduce(1, *) == 1 {
      out = Tensor(shape: target, scalars: [Float(backend.sum(storage, count: count))], on: backend)
    } else {
      out = Tensor.zeros(target, on: backend)
      backend.stridedCopy(
        shape: shape, source: BufferPosition(storage), sourceStrides: contiguousStrides(shape),
        destination: BufferPosition(out.storage), destinationStrides: broadcastStrides(target, to: shape),
        accumulate: true)
    }
    let inputShape = shape
    return Tensor.recorded(out, name: "sumToShape", inputs: [self]) { g, _ in
      [g.broadcast(to: inputShape)]
    }
  }

  /// The maximum along the last axis, shape `shape.dropLast() + [1]`, without gradient
  /// (used for the numerical stabilisation of softmax, which does not change its value).
  public func maximumAlongLastAxis() -> Tensor {
    let length = shape.last ?? 1
    let rows = count / max(length, 1)
    let out = Tensor.uninitialized(Array(shape.dropLast()) + [1], on: backend)
    backend.rowMaximum(storage, rows: rows, length: length, out: out.storage)
    return out
  }
}
