import CPUKernels

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
    StridedLoops.copy(
      shape: target, source: storage.pointer, sourceStrides: broadcastStrides(shape, to: target),
      destination: out.storage.pointer, destinationStrides: StridedLoops.contiguousStrides(target),
      accumulate: false, pool: backend.pool)
    let inputShape = shape
    return Tensor.recorded(out, name: "broadcast", inputs: [self]) { g, _ in [g.summed(toShape: inputShape)] }
  }

  /// The axes reordered: result axis `i` is input axis `axes[i]`.
  public func permuted(_ axes: [Int]) -> Tensor {
    precondition(axes.sorted() == Array(0..<rank), "\(axes) is not a permutation of \(rank) axes")
    let newShape = axes.map { shape[$0] }
    let strides = StridedLoops.contiguousStrides(shape)
    let out = Tensor.uninitialized(newShape, on: backend)
    StridedLoops.copy(
      shape: newShape, source: storage.pointer, sourceStrides: axes.map { strides[$0] },
      destination: out.storage.pointer, destinationStrides: StridedLoops.contiguousStrides(newShape),
      accumulate: false, pool: backend.pool)
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
    let strides = StridedLoops.contiguousStrides(shape)
    let offset = zip(lower, strides).map(*).reduce(0, +)
    let out = Tensor.uninitialized(newShape, on: backend)
    StridedLoops.copy(
      shape: newShape, source: storage.pointer + offset, sourceStrides: strides,
      destination: out.storage.pointer, destinationStrides: StridedLoops.contiguousStrides(newShape),
      accumulate: false, pool: backend.pool)
    let inputShape = shape
    let box = (lower: lower, upper: upper)
    return Tensor.recorded(out, name: "slice", inputs: [self]) { g, _ in
      let dx = Tensor.zerosOutside(lower: box.lower, upper: box.upper, of: inputShape, on: g.backend)
      StridedLoops.copy(
        shape: newShape, source: g.storage.pointer, sourceStrides: StridedLoops.contiguousStrides(newShape),
        destination: dx.storage.pointer + offset, destinationStrides: strides, accumulate: false,
        pool: g.backend.pool)
      return [dx]
    }
  }

  /// A tensor of `shape` that is zero outside the box `lower ..< upper` and uninitialised
  /// inside it (for the caller to fill): the gradient buffer of a slice. Only the elements
  /// outside the box are written when the box spans every axis after its first partial one
  /// (a channel slice of NCHW: the other channels of each image); otherwise all are zeroed.
  static func zerosOutside(lower: [Int], upper: [Int], of shape: [Int], on backend: any Backend) -> Tensor {
    let result = Tensor.uninitialized(shape, on: backend)
    let pointer = result.storage.pointer
    guard let axis = shape.indices.first(where: { lower[$0] != 0 || upper[$0] != shape[$0] }) else { return result }
    let tailFull = shape.indices.allSatisfy { $0 <= axis || (lower[$0] == 0 && upper[$0] == shape[$0]) }
    guard tailFull else {
      Elementwise.fill(pointer, value: 0, count: result.count, pool: backend.pool)
      return result
    }
    let inner = shape[(axis + 1)...].reduce(1, *)
    let block = shape[axis] * inner
    for outer in 0..<shape[..<axis].reduce(1, *) {
      let start = pointer + outer * block
      Elementwise.fill(start, value: 0, count: lower[axis] * inner, pool: backend.pool)
      Elementwise.fill(start + upper[axis] * inner, value: 0, count: (shape[axis] - upper[axis]) * inner, pool: backend.pool)
    }
    return result
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
    let out = Tensor.uninitialized(newShape, on: first.backend)
    let outStrides = StridedLoops.contiguousStrides(newShape)
    var start = 0
    var starts: [Int] = []
    for t in tensors {
      var expected = newShape
      expected[axis] = t.shape[axis]
      precondition(t.shape == expected, "concatenating \(t.shape) with \(first.shape) along axis \(axis)")
      starts.append(start)
      StridedLoops.copy(
        shape: t.shape, source: t.storage.pointer, sourceStrides: StridedLoops.contiguousStrides(t.shape),
        destination: out.storage.pointer + start * outStrides[axis], destinationStrides: outStrides,
        accumulate: false, pool: first.backend.pool)
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

  /// `concatenated([processed, rest.slicedChannels(restChannels)], alongAxis: 1)
  /// .channelShuffled(groups: groups)` in one pass, with no concatenation, slice or shuffle
  /// temporaries and nothing saved for the backward pass (whose rule is the inverse channel
  /// gather): the PC-DARTS partial-channel output (SPEC §5.1), where `processed` is the
  /// mixture of the first C/K channels and `rest` the bypassed input (channels C/K..<C of x).
  ///
  /// Shapes: `processed` `[N, P, H, W]`, `rest` `[N, R, H, W]` with `restChannels` of R;
  /// C = P + restChannels.count must be divisible by `groups` and P by C/`groups`. Output
  /// `[N, C, H, W]`: channel `c'·groups + g` is joined channel `g·(C/groups) + c'`.
  public static func channelShuffledJoin(_ processed: Tensor, _ rest: Tensor, restChannels: Range<Int>, groups: Int) -> Tensor {
    precondition(processed.rank == 4 && rest.rank == 4, "channel shuffle join needs NCHW tensors")
    let (n, p, h, w) = (processed.shape[0], processed.shape[1], processed.shape[2], processed.shape[3])
    precondition(rest.shape[0] == n && rest.shape[2] == h && rest.shape[3] == w, "joining \(processed.shape) with \(rest.shape)")
    precondition(restChannels.lowerBound >= 0 && restChannels.upperBound <= rest.shape[1], "channels \(restChannels) out of \(rest.shape)")
    let c = p + restChannels.count
    precondition(c % groups == 0 && p % (c / groups) == 0, "channel shuffle join of \(p) + \(restChannels.count) channels in \(groups) groups")
    let groupChannels = c / groups
    let plane = h * w
    let restShape = rest.shape
    let backend = processed.backend
    // Joined channel g·(C/groups) + c' of image i sits at output offset
    // i·C·plane + (c'·groups + g)·plane: as [N, groups, C/groups, plane], output strides are
    // [C·plane, plane, groups·plane, 1]; part k starts at group `firstGroup[k]`.
    let parts = [(groups: p / groupChannels, firstGroup: 0, imageStride: p * plane, offset: 0),
                 (groups: restChannels.count / groupChannels, firstGroup: p / groupChannels,
                  imageStride: restShape[1] * plane, offset: restChannels.lowerBound * plane)]
    func layout(_ k: Int) -> (shape: [Int], part: [Int], output: [Int], outputOffset: Int) {
      ([n, parts[k].groups, groupChannels, plane], [parts[k].imageStride, groupChannels * plane, plane, 1],
       [c * plane, plane, groups * plane, 1], parts[k].firstGroup * plane)
    }
    let out = Tensor.uninitialized([n, c, h, w], on: backend)
    for (k, source) in [processed, rest].enumerated() {
      let l = layout(k)
      StridedLoops.copy(
        shape: l.shape, source: source.storage.pointer + parts[k].offset, sourceStrides: l.part,
        destination: out.storage.pointer + l.outputOffset, destinationStrides: l.output, accumulate: false,
        pool: backend.pool)
    }
    return recorded(out, name: "channelShuffledJoin", inputs: [processed, rest]) { g, needed in
      (0..<2).map { k in
        guard needed[k] else { return nil }
        let shape = k == 0 ? [n, p, h, w] : restShape
        let grad = k == 0
          ? Tensor.uninitialized(shape, on: g.backend)
          : Tensor.zerosOutside(lower: [0, restChannels.lowerBound, 0, 0], upper: [n, restChannels.upperBound, h, w], of: shape, on: g.backend)
        let l = layout(k)
        StridedLoops.copy(
          shape: l.shape, source: g.storage.pointer + l.outputOffset, sourceStrides: l.output,
          destination: grad.storage.pointer + parts[k].offset, destinationStrides: l.part, accumulate: false,
          pool: g.backend.pool)
        return grad
      }
    }
  }
}
