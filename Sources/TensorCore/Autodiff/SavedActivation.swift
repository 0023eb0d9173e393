import Synchronization

/// The values of an operation's input that its backward rule reads, kept either as the tensor
/// itself or, for the output of a batch normalisation with γ/β, as the recipe that recomputes
/// it from tensors the normalisation keeps anyway (`ChannelAffineRecomputation`).
///
/// Keeping the recipe lets that output be freed as soon as the forward pass is done with it:
/// every cell preprocessing output read by convolutions and pooling then costs one tensor less
/// until the backward pass (the DARTS_V2 training step's peak fell from 5.6 to 4.5 GiB), for
/// one per-channel affine pass each time a rule that reads it runs (about 0.3 ms on a 14 MB
/// map). Depthwise convolutions need no such pass: they map the normalisation's input as they
/// read it (`ConvolutionInput.channelAffine`). The recomputed values are those of the forward
/// pass bit for bit: the same primitive runs on the same operands.
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
    kept ?? recomputation!.values(count: shape.reduce(1, *), on: backend)
  }
}

/// How to recompute a tensor `y[n, c, …] = source[n, c, …]·scale[c] + shift[c]` (NCHW with
/// `spatial` = H·W), times `sampleScale[n]` when set: a training-mode batch normalisation with
/// γ/β, whose backward pass keeps its input `source` anyway, and its drop path.
struct ChannelAffineRecomputation {
  let source: TensorStorage
  let scale: TensorStorage
  let shift: TensorStorage
  /// `[batch]`: the drop-path mask applied to the normalisation's output, or nil.
  var sampleScale: TensorStorage?
  let batch: Int
  let channels: Int
  let spatial: Int

  /// The values, in a fresh storage of `count` elements.
  func values(count: Int, on backend: any Backend) -> TensorStorage {
    let out = backend.allocate(count)
    backend.channelAffine(
      input: source, scale: scale, shift: shift, sampleScale: sampleScale, output: out, batch: batch, channels: channels,
      spatial: spatial)
    return out
  }
}

/// The values of a tensor that are formed only when something first reads them: the output of
/// a training-mode batch normalisation with γ/β (`ChannelAffineRecomputation`). A depthwise
/// convolution maps the normalisation's input as it reads it instead (`ConvolutionInput`), so
/// the BN → ReLU → depthwise chain in the middle of every separable convolution never forms
/// that output: one pass over the map saved in the forward pass and one in the backward pass,
/// per separable convolution. Any other reader forms it here once, and shares it.
final class DeferredChannelAffine: @unchecked Sendable {
  let recipe: ChannelAffineRecomputation
  private let count: Int
  private let backend: any Backend
  private let formed = Mutex<TensorStorage?>(nil)

  init(_ recipe: ChannelAffineRecomputation, count: Int, on backend: any Backend) {
    self.recipe = recipe
    self.count = count
    self.backend = backend
  }

  /// The values, formed on the first call.
  var storage: TensorStorage {
    formed.withLock { formed in
      if let formed { return formed }
      let values = recipe.values(count: count, on: backend)
      formed = values
      return values
    }
  }
}
