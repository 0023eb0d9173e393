extension Tensor {
  /// A weighted sum of equally shaped tensors, optionally joined along channels with a
  /// weighted sum of bypassed channels and channel-shuffled, in one pass with no temporaries:
  ///
  ///     channelShuffle(concat([Σ_i weights[i]·tensors[i],
  ///                            Σ_j weights[T+j]·bypass[j].tensor[:, bypass[j].channels]]),
  ///                    groups: shuffleGroups)
  ///
  /// with T = `tensors.count`. Without a bypass and with one group it is `Σ_i w_i·tensors[i]`.
  /// One call computes a whole supernet node: the DARTS mixed operations of all its incoming
  /// edges `Σ_edges Σ_o softmax(α)_o·o(x)` (SPEC §1.5), and for PC-DARTS (SPEC §5.1) the
  /// β-weighted partial-channel mixtures with each edge's bypassed channels `x[:, C/K..<C]`
  /// (max-pooled on stride-2 edges), joined and shuffled with K groups, so no per-edge mixture,
  /// join or shuffle tensor is ever formed.
  ///
  /// Shapes: every tensor `[N, P, H, W]` (any rank ≥ 1 without a bypass); every bypass tensor
  /// `[N, R_j, H, W]` with `channels` ranges of one common length R; `weights` `[T + bypass
  /// count]`. C = P + R must be divisible by `shuffleGroups` and P by C/`shuffleGroups`. Output
  /// `[N, C, H, W]`: channel `c'·groups + g` is joined channel `g·(C/groups) + c'`.
  ///
  /// Gradients: `weights[k]·g` gathered back to each input (zero outside a bypass range) and
  /// one dot product per weight.
  public static func weightedSum(
    _ tensors: [Tensor], weights: Tensor, bypass: [(tensor: Tensor, channels: Range<Int>)] = [],
    shuffleGroups groups: Int = 1
  ) -> Tensor {
    precondition(!tensors.isEmpty, "weighted sum of no tensors")
    precondition(weights.count == tensors.count + bypass.count,
      "weighted sum of \(tensors.count) + \(bypass.count) tensors with \(weights.count) weights")
    let shape = tensors[0].shape
    precondition(tensors.allSatisfy { $0.shape == shape }, "weighted sum of tensors of different shapes")
    let backend = sharedBackend(of: tensors + [weights] + bypass.map(\.tensor))
    let parts = WeightedJoinLayout(tensorCount: tensors.count, shape: shape, bypass: bypass.map { ($0.tensor.shape, $0.channels) }, groups: groups)
    let inputs = tensors + bypass.map(\.tensor)
    let w = weights.scalars
    let out = Tensor.uninitialized(parts.outputShape, on: backend)
    for part in parts.parts {
      backend.stridedWeightedSum(
        shape: part.shape, sources: part.inputs.map { BufferPosition(inputs[$0].storage, offset: parts.offsets[$0]) },
        sourceStrides: part.inputs.map { parts.strides[$0] }, weights: part.inputs.map { w[$0] },
        destination: BufferPosition(out.storage, offset: part.outputOffset), destinationStrides: part.outputStrides)
    }
    return recorded(out, name: "weightedSum", inputs: inputs + [weights]) { g, needed in
      // A bypass that is a channel range of its tensor gets a gradient of just those channels,
      // embedded (the rest of that tensor's gradient is zero, and is never formed).
      var grads: [Tensor?] = inputs.indices.map { i in
        guard needed[i] else { return nil }
        guard i >= tensors.count, parts.gradientShapes[i] != inputs[i].shape else {
          return Tensor.uninitialized(inputs[i].shape, on: g.backend)
        }
        return Tensor.uninitialized(parts.gradientShapes[i], on: g.backend)
          .embedded(inChannels: bypass[i - tensors.count].channels, of: inputs[i].shape)
      }
      let needWeights = needed[inputs.count]
      var dots = [Double](repeating: 0, count: inputs.count)
      for part in parts.parts {
        let partDots = g.backend.stridedWeightedSumBackward(
          shape: part.shape, gradient: BufferPosition(g.storage, offset: part.outputOffset),
          gradientStrides: part.outputStrides,
          sources: part.inputs.map { BufferPosition(inputs[$0].storage, offset: parts.offsets[$0]) },
          sourceStrides: part.inputs.map { parts.strides[$0] }, weights: part.inputs.map { w[$0] },
          gradInputs: part.inputs.map { grads[$0]?.storage }, gradInputStrides: part.inputs.map { parts.gradientStrides[$0] },
          needWeightGradient: needWeights)
        for (slot, i) in part.inputs.enumerated() { dots[i] = partDots[slot] }
      }
      grads.append(needWeights ? Tensor(shape: weights.shape, scalars: dots.map { Float($0) }, on: g.backend) : nil)
      return grads
    }
  }
}

/// Where each input of a joined weighted sum is read and where its part of the output is
/// written. A plain sum is one part of `[rows, 1, 1, row]`; a join has the processed part and the
/// bypass part, each viewed as `[N, groups in the part, C/groups, H·W]`, whose output strides
/// `[C·H·W, H·W, groups·H·W, 1]` place joined channel `g·(C/groups) + c'` at `c'·groups + g`.
private struct WeightedJoinLayout {
  struct Part {
    var shape: [Int]
    /// Indices into the inputs (the tensors, then the bypass tensors).
    var inputs: Range<Int>
    var outputStrides: [Int]
    var outputOffset: Int
  }
  let outputShape: [Int]
  let parts: [Part]
  /// Per input: its element strides over its part's shape, and the offset of its first element.
  let strides: [[Int]]
  let offsets: [Int]
  /// Per input: the shape of its gradient, and the element strides of that gradient over its
  /// part's shape (from its first element); for a bypass range of fewer channels than its
  /// tensor, just those channels. Otherwise the input's own shape and strides (its offset is
  /// then 0).
  let gradientShapes: [[Int]]
  let gradientStrides: [[Int]]

  init(tensorCount: Int, shape: [Int], bypass: [(shape: [Int], channels: Range<Int>)], groups: Int) {
    if bypass.isEmpty && groups == 1 {
      let rows = shape.count >= 2 ? shape[0] : 1
      let row = shape.reduce(1, *) / Swift.max(rows, 1)
      let rowStrides = [row, 0, 0, 1]
      outputShape = shape
      parts = [Part(shape: [rows, 1, 1, row], inputs: 0..<tensorCount, outputStrides: rowStrides, outputOffset: 0)]
      strides = Array(repeating: rowStrides, count: tensorCount)
      offsets = Array(repeating: 0, count: tensorCount)
      gradientShapes = Array(repeating: shape, count: tensorCount)
      gradientStrides = strides
      return
    }
    precondition(shape.count == 4 && bypass.allSatisfy { $0.shape.count == 4 }, "a channel-shuffled join needs NCHW tensors")
    let (n, p, h, w) = (shape[0], shape[1], shape[2], shape[3])
    let r = bypass.first?.channels.count ?? 0
    for b in bypass {
      precondition(b.shape[0] == n && b.shape[2] == h && b.shape[3] == w, "joining \(shape) with \(b.shape)")
      precondition(b.channels.count == r && b.channels.lowerBound >= 0 && b.channels.upperBound <= b.shape[1],
        "bypass channels \(b.channels) of \(b.shape) (all bypass ranges must have \(r) channels)")
    }
    let c = p + r
    precondition(groups > 0 && c % groups == 0 && p % (c / groups) == 0 && r % (c / groups) == 0,
      "channel-shuffled join of \(p) + \(r) channels in \(groups) groups")
    let groupChannels = c / groups
    let plane = h * w
    let outputStrides = [c * plane, plane, groups * plane, 1]
    outputShape = [n, c, h, w]
    var parts = [Part(shape: [n, p / groupChannels, groupChannels, plane], inputs: 0..<tensorCount,
                      outputStrides: outputStrides, outputOffset: 0)]
    var strides = Array(repeating: [p * plane, groupChannels * plane, plane, 1], count: tensorCount)
    var offsets = Array(repeating: 0, count: tensorCount)
    var gradientShapes = Array(repeating: shape, count: tensorCount)
    var gradientStrides = strides
    if r > 0 {
      parts.append(Part(shape: [n, r / groupChannels, groupChannels, plane], inputs: tensorCount..<(tensorCount + bypass.count),
                        outputStrides: outputStrides, outputOffset: p / groupChannels * plane))
      strides += bypass.map { [$0.shape[1] * plane, groupChannels * plane, plane, 1] }
      offsets += bypass.map { $0.channels.lowerBound * plane }
      gradientShapes += bypass.map { _ in [n, r, h, w] }
      gradientStrides += bypass.map { _ in [r * plane, groupChannels * plane, plane, 1] }
    }
    self.parts = parts
    self.strides = strides
    self.offsets = offsets
    self.gradientShapes = gradientShapes
    self.gradientStrides = gradientStrides
  }
}

extension Tensor {
  /// The sum of the gradient contributions that reached one tensor, in one pass that writes
  /// each element once: dense contributions are read whole, embedded ones (a channel range,
  /// zero elsewhere) only on their channels, and channels no contribution covers are zeroed.
  /// A single dense contribution is returned as it is.
  static func accumulatedGradient(_ contributions: [Tensor]) -> Tensor {
    precondition(!contributions.isEmpty, "no gradient contributions to accumulate")
    let first = contributions[0]
    let shape = first.embedding?.shape ?? first.shape
    let backend = sharedBackend(of: contributions)
    if contributions.allSatisfy({ $0.embedding == nil }) {
      if contributions.count == 1 { return first }
      let out = Tensor.uninitialized(shape, on: backend)
      backend.weightedSum(
        contributions.map(\.storage), weights: Array(repeating: 1, count: contributions.count),
        out: out.storage, count: out.count)
      return out
    }
    // Channel segments between the embedding boundaries, each summed from the contributions
    // that cover it: rows of one image's segment, [N, 1, 1, segment channels · plane].
    let (n, c) = (shape[0], shape[1])
    let plane = shape.dropFirst(2).reduce(1, *)
    let ranges = contributions.map { $0.embedding?.channels ?? 0..<c }
    let cuts = Set(ranges.flatMap { [$0.lowerBound, $0.upperBound] } + [0, c]).sorted()
    let out = Tensor.uninitialized(shape, on: backend)
    for (lower, upper) in zip(cuts, cuts.dropFirst()) where lower < upper {
      let covering = contributions.indices.filter { ranges[$0].lowerBound <= lower && upper <= ranges[$0].upperBound }
      let destination = lower * plane
      guard !covering.isEmpty else {
        for image in 0..<n {
          backend.fill(BufferPosition(out.storage, offset: destination + image * c * plane), value: 0, count: (upper - lower) * plane)
        }
        continue
      }
      backend.stridedWeightedSum(
        shape: [n, 1, 1, (upper - lower) * plane],
        sources: covering.map { BufferPosition(contributions[$0].storage, offset: (lower - ranges[$0].lowerBound) * plane) },
        sourceStrides: covering.map { [contributions[$0].shape[1] * plane, 0, 0, 1] },
        weights: Array(repeating: 1, count: covering.count),
        destination: BufferPosition(out.storage, offset: destination), destinationStrides: [c * plane, 0, 0, 1])
    }
    return out
  }
}

