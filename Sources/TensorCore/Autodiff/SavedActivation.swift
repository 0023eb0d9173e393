/// The values of an operation's input that its backward rule reads, kept either as the tensor
/// itself or, for the output of a batch normalisation with γ/β, as the recipe that recomputes
/// it from tensors the normalisation keeps anyway (`ChannelAffineRecomputation`).
///
/// Keeping the recipe lets that output be freed as soon as the forward pass is done with it:
/// in every DARTS separable convolution the middle BN → ReLU → depthwise chain, and every cell
/// preprocessing output read by convolutions and pooling, then cost one tensor less each until
/// the backward pass, for one per-channel affine pass each time a rule that reads it runs (about
/// 0.3 ms on a 14 MB map; some 60 ms of the 2.3 s DARTS_V2 training step, whose peak falls from
/// 5.6 to 4.5 GiB). The recomputed values are those of the forward pass bit for bit: the same
/// primitive runs on the same operands.
struct SavedActivation {
  private let shape: [Int]
  private let backend: any Backend
  private let kept: TensorStorage?
  private let recomputation: ChannelAffineRecomputation?

  init(_ tensor: Tensor) {
    shape = tensor.shape
    backend = tensor.backend
    recomputation = tensor.recomputation
    kept = tensor.recomputation == nil ? tensor.storage : nil
  }

  /// The values: the kept storage, or a fresh one recomputed on each call (call once per rule).
  func values() -> TensorStorage {
    if let kept { return kept }
    let r = recomputation!
    let out = backend.allocate(shape.reduce(1, *))
    backend.channelAffine(input: r.source, scale: r.scale, shift: r.shift, output: out, batch: r.batch, channels: r.channels, spatial: r.spatial)
    return out
  }
}

/// How to recompute a tensor `y[n, c, …] = source[n, c, …]·scale[c] + shift[c]` (NCHW with
/// `spatial` = H·W): a training-mode batch normalisation with γ/β, whose backward pass keeps its
/// input `source` anyway.
struct ChannelAffineRecomputation {
  let source: TensorStorage
  let scale: TensorStorage
  let shift: TensorStorage
  let batch: Int
  let channels: Int
  let spatial: Int
}
