extension Tensor {
  /// `log softmax` along `axis`: `x − max − log Σ exp(x − max)` (the max is a constant, which
  /// leaves value and gradient unchanged and keeps `exp` finite).
  public func logSoftmax(alongAxis axis: Int = -1) -> Tensor {
    let a = axis < 0 ? axis + rank : axis
    if a != rank - 1 {
      var order = Array(0..<rank)
      order.swapAt(a, rank - 1)
      return permuted(order).logSoftmax(alongAxis: -1).permuted(order)
    }
    let shifted = self - maximumAlongLastAxis()
    return shifted - shifted.exp().summed(alongAxes: [-1], keepingDimensions: true).log()
  }

  /// `log Σ_k exp(x_k)` over the last axis, shape `shape.dropLast()`: the "smooth max" of each
  /// row, computed as `m + log Σ exp(x − m)` with the row maximum `m` a constant (it cancels
  /// from the value, keeps `exp` finite, and leaves the gradient `softmax(x)` of each row).
  ///
  /// Composite of primitives, no gradient rule of its own. `max ≤ logSumExp ≤ max + log K`.
  public func logSumExpAlongLastAxis() -> Tensor {
    let m = maximumAlongLastAxis()
    let rows = (self - m).exp().summed(alongAxes: [-1], keepingDimensions: true).log() + m
    return rows.reshaped(to: Array(shape.dropLast()))
  }

  /// `softmax` along `axis` (`exp(logSoftmax)`).
  public func softmax(alongAxis axis: Int = -1) -> Tensor {
    logSoftmax(alongAxis: axis).exp()
  }

  /// Mean cross-entropy of `[N, K]` logits against integer labels, with optional label
  /// smoothing ε: the target distribution is `(1 − ε)·onehot + ε/K` (ε/K added to every class,
  /// the true one included, as PyTorch's `label_smoothing`).
  public func crossEntropy(labels: [Int], labelSmoothing epsilon: Float = 0) -> Tensor {
    precondition(rank == 2 && shape[0] == labels.count, "cross entropy needs [N, K] logits and N labels, got \(shape) and \(labels.count)")
    let (n, k) = (shape[0], shape[1])
    var target = [Float](repeating: epsilon / Float(k), count: n * k)
    for (i, label) in labels.enumerated() {
      precondition(label >= 0 && label < k, "label \(label) out of range 0..<\(k)")
      target[i * k + label] += 1 - epsilon
    }
    let q = Tensor(shape: [n, k], scalars: target, on: backend)
    return (q * logSoftmax(alongAxis: 1)).sum() * (-1 / Float(n))
  }

  /// The affine map `x·Wᵀ + b` of PyTorch's `Linear` (`x: [N, in]`, `weight: [out, in]`,
  /// `bias: [out]`).
  public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
    let product = Tensor.matmul(self, weight, transposeB: true)
    return bias.map { product + $0 } ?? product
  }

  /// Multiplies by a mask of independent Bernoulli(1 − p) draws scaled by 1/(1 − p)
  /// (inverted dropout, PyTorch `dropout` in training mode). `p = 0` returns `self`.
  public func dropout(probability p: Float, generator: inout SeededGenerator) -> Tensor {
    if p <= 0 { return self }
    let keep = 1 - p
    let mask = (0..<count).map { _ in generator.nextUniform() < keep ? 1 / keep : 0 }
    return self * Tensor(shape: shape, scalars: mask, on: backend)
  }

  /// Drop path (Larsson et al., FractalNet 2017; DARTS evaluation): each sample of an NCHW
  /// batch is kept with probability `1 − p` and scaled by `1/(1 − p)`, or zeroed whole.
  ///
  /// On a batch normalisation's deferred output (the last layer of every DARTS operation) the
  /// result is deferred too: the mask joins the normalisation's map, and whoever first reads
  /// the result forms `(x·scale + shift)·mask` in one pass, bit for bit the values of the two
  /// passes it replaces.
  public func droppingPath(probability p: Float, generator: inout SeededGenerator) -> Tensor {
    if p <= 0 { return self }
    let keep = 1 - p
    let mask = (0..<shape[0]).map { _ in generator.nextUniform() < keep ? 1 / keep : 0 }
    var maskShape = [Int](repeating: 1, count: rank)
    maskShape[0] = shape[0]
    let maskTensor = Tensor(shape: maskShape, scalars: mask, on: backend)
    guard var recipe = recomputation, recipe.sampleScale == nil else { return self * maskTensor }
    recipe.sampleScale = maskTensor.storage
    return Tensor.recorded(Tensor(shape: shape, deferring: recipe, on: backend), name: "droppingPath", inputs: [self]) { g, _ in
      [g * maskTensor]
    }
  }
}
