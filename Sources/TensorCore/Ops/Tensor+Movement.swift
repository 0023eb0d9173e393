extension Tensor {
  /// The same elements with another shape of equal element count (no copy). One extent may
  /// be -1 and is then inferred.
  public func reshaped(to newShape: [Int]) -> Tensor {
    var resolved = newShape
    if let unknown = newShape.firstIndex(of: -1) {
      let known = newShape.filter { $0 != -1 }.reduce(1, *)
      resolved[unknown] = count / Swift.max(known, 1)
    }
    precondition(resolved.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
    if resolved == shape { return self }
    let out = Tensor(shape: resolved, storage: storage, backend: backend)
    let inputShape = shape
    return Tensor.recorded(out, name: "reshape", inputs: [self]) { g, _ in [g.reshaped(to: inputShape)] }
  }

  /// Materialises the broadcast of `self` to `target` (NumPy rules).
  public func broadcast(to target: [Int]) -> Tensor {
    if shape == target { return self }
    precondition(broadcastShape(shape, target) == target, "cannot broadcast \(shape) to \(target)")
    let out = Tensor.uninitialized(target, on: backend)
    backend.stridedCopy(
      shape: target, source: BufferPosition(storage), sourceStrides: broadcastStrides(shape, to: target),
      destination: BufferPosition(out.storage), destinationStrides: contiguousStrides(target), accumulate: false)
    let inputShape = shape
    return Tensor.recorded(out, name: "broadcast", inputs: [self]) { g, _ in [g.summed(toShape: inputShape)] }
  }

  /// The axes reordered: result axis `i` is input axis `axes[i]`.
  public func permuted(_ axes: [Int]) -> Tensor {
    precondition(axes.sorted() == Array(0..<rank), "\(axes) is not a permutation of \(rank) axes")
    let newShape = axes.map { shape[$0] }
    let strides = contiguousStrides(shape)
    let out = Tensor.uninitialized(newShape, on: backend)
    backend.stridedCopy(
      shape: newShape, source: BufferPosition(storage), sourceStrides: axes.map { strides[$0] },
      destination: BufferPosition(out.storage), destinationStrides: contiguousStrides(newShape), accumulate: false)
    var inverse = [Int](repeating: 0, count: rank)
    for (i, a) in axes.enumerated() { inverse[a] = i }
    return Tensor.recorded(out, name: "permute", inputs: [self]) { g, _ in [g.permuted(inverse)] }
  }

  /// The box `lower[i] ..< upper[i]` along every axis (a copy). FactorizedReduce's shifted
  /// input `x[:, :, 1:, 1:]` is `sliced(lower: [0, 0, 1, 1], upper: x.shape)`.
  public func sliced(lower: [Int], upper: [Int]) -> Tensor {
    precondition(lower.count == rank && upper.count == rank, "slice bounds need \(rank) axes")
    for i in 0..<rank {
      precondition(0 <= lower[i] && lower[i] <= upper[i] && upper[i] <= shape[i], "slice \(lower)..<\(upper) out of \(shape)")
    }
    let newShape = (0..<rank).map { upper[$0] - lower[$0] }
    let strides = contiguousStrides(shape)
    let offset = zip(lower, strides).map(*).reduce(0, +)
    let out = Tensor.uninitialized(newShape, on: backend)
    backend.stridedCopy(
      shape: newShape, source: BufferPosition(storage, offset: offset), sourceStrides: strides,
      destination: BufferPosition(out.storage), destinationStrides: contiguousStrides(newShape), accumulate: false)
    let inputShape = shape
    let box = (lower: lower, upper: upper)
    let channelBox = rank >= 2 && (0..<rank).allSatisfy { $0 == 1 || newShape[$0] == shape[$0] }
    return Tensor.recorded(out, name: "slice", inputs: [self]) { g, _ in
      if channelBox { return [g.embedded(inChannels: box.lower[1]..<box.upper[1], of: inputShape)] }
      let dx = Tensor.zerosOutside(lower: box.lower, upper: box.upper, of: inputShape, on: g.backend)
      g.backend.stridedCopy(
        shape: newShape, source: BufferPosition(g.storage), sourceStrides: contiguousStrides(newShape),
        destination: BufferPosition(dx.storage, offset: offset), destinationStrides: strides, accumulate: false)
      return [dx]
    }
  }

  /// A tensor of `shape` that is zero outside the box `lower ..< upper` and uninitialised
  /// inside it (for the caller to fill): the gradient buffer of a slice. Only the elements
  /// outside the box are written when the box spans every axis after its first partial one
  /// (a channel slice of NCHW: the other channels of each image); otherwise all are zeroed.
  static func zerosOutside(lower: [Int], upper: [Int], of shape: [Int], on backend: any Backend) -> Tensor {
    let result = Tensor.uninitialized(shape, on: backend)
    guard let axis = shape.indices.first(where: { lower[$0] != 0 || upper[$0] != shape[$0] }) else { return result }
    let tailFull = shape.indices.allSatisfy { $0 <= axis || (lower[$0] == 0 && upper[$0] == shape[$0]) }
    guard tailFull else {
      backend.fill(BufferPosition(result.storage), value: 0, count: result.count)
      return result
    }
    let inner = shape[(axis + 1)...].reduce(1, *)
    let block = shape[axis] * inner
    for outer in 0..<shape[..<axis].reduce(1, *) {
      let start = outer * block
      backend.fill(BufferPosition(result.storage, offset: start), value: 0, count: lower[axis] * inner)
      backend.fill(BufferPosition(result.storage, offset: start + upper[axis] * inner), value: 0, count: (shape[axis] - upper[axis]) * inner)
    }
    return result
  }

  /// Rows `range` along the first axis, `x[range]` (a copy, differentiable as ``sliced(lower:upper:)``):
  /// one micro-batch of a batch. The tensor itself when `range` is all of it.
  public func rows(_ range: Range<Int>) -> Tensor {
    guard range != 0..<shape[0] else { return self }
    return sliced(lower: [range.lowerBound] + shape.dropFirst().map { _ in 0 }, upper: [range.upperBound] + shape.dropFirst())
  }

  /// Channels `range` of an NCHW (or any rank ≥ 2) tensor: `x[:, range]`.
  public func slicedChannels(_ range: Range<Int>) -> Tensor {
    var lower = [Int](repeating: 0, count: rank)
    var upper = shape
    lower[1] = range.lowerBound
    upper[1] = range.upperBound
    return sliced(lower: lower, upper: upper)
  }

  /// Joins `tensors` along `axis`; all other extents must agree.
  public static func concatenated(_ tensors: [Tensor], alongAxis axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "nothing to concatenate")
    let first = tensors[0]
    var newShape = first.shape
    newShape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
    let backend = sharedBackend(of: tensors)
    let out = Tensor.uninitialized(newShape, on: backend)
    let outStrides = contiguousStrides(newShape)
    var start = 0
    var starts: [Int] = []
    for t in tensors {
      var expected = newShape
      expected[axis] = t.shape[axis]
      precondition(t.shape == expected, "concatenating \(t.shape) with \(first.shape) along axis \(axis)")
      starts.append(start)
      backend.stridedCopy(
        shape: t.shape, source: BufferPosition(t.storage), sourceStrides: contiguousStrides(t.shape),
        destination: BufferPosition(out.storage, offset: start * outStrides[axis]), destinationStrides: outStrides,
        accumulate: false)
      start += t.shape[axis]
    }
    let extents = tensors.map { $0.shape[axis] }
    return recorded(out, name: "concat", inputs: tensors) { g, needed in
      extents.indices.map { i in
        guard needed[i] else { return nil }
        var lower = [Int](repeating: 0, count: newShape.count)
        var upper = newShape
        lower[axis] = starts[i]
        upper[axis] = starts[i] + extents[i]
        return g.sliced(lower: lower, upper: upper)
      }
    }
  }

  /// Channel shuffle with `groups` groups (ShuffleNet; PC-DARTS §5.1): view `[N, C, H, W]` as
  /// `[N, groups, C/groups, H, W]`, swap axes 1 and 2, flatten back. Output channel
  /// `c'·groups + g` is input channel `g·(C/groups) + c'`.
  public func channelShuffled(groups: Int) -> Tensor {
    precondition(rank == 4 && shape[1] % groups == 0, "channel shuffle needs NCHW with C divisible by \(groups)")
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
    return reshaped(to: [n, groups, c / groups, h, w]).permuted([0, 2, 1, 3, 4]).reshaped(to: [n, c, h, w])
  }
}
