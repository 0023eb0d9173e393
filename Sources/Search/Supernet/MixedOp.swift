import NN
import SearchSpace
import TensorCore

/// One edge of the supernet: every candidate operation applied to the input and summed with
/// architecture weights, `Σ_o w_o·o(x)` (DARTS, SPEC §1.5).
///
/// With partial channels K > 1 (PC-DARTS, SPEC §5.1) the operations see only the first C/K
/// channels; the other channels bypass them (max-pooled 2×2 on stride-2 edges), are
/// concatenated after the mixture and the result is channel-shuffled with K groups.
/// `none` contributes nothing but keeps its softmax mass (its weight is simply not used).
public final class MixedOp: Module {
  public let primitives: [Primitive]
  public let operations: [any Layer]
  public let stride: Int
  public let partialChannels: Int

  public init(
    channels: Int, stride: Int, primitives: [Primitive], partialChannels: Int, skipDropout: Bool,
    using factory: inout ParameterFactory
  ) {
    precondition(channels % partialChannels == 0, "channels \(channels) not divisible by K = \(partialChannels)")
    self.primitives = primitives
    self.stride = stride
    self.partialChannels = partialChannels
    let opChannels = channels / partialChannels
    operations = primitives.map { primitive in
      let op = makeOperation(primitive, channels: opChannels, stride: stride, affine: false, poolNorm: true, using: &factory)
      if skipDropout && primitive == .skipConnect && stride == 1 {
        return Sequential([op, Dropout(probability: 0, generator: factory.generator.split())])
      }
      return op
    }
  }

  public override func referenceName(forProperty label: String) -> String? {
    label == "operations" ? "_ops" : nil
  }

  /// The mixture for an edge input `[N, C, H, W]` and weights `[primitives.count]`.
  public func callAsFunction(_ input: PartialChannelInput, weights: Tensor) -> Tensor {
    let k = partialChannels
    precondition(input.partialChannels == k, "edge input split for K = \(input.partialChannels), edge has K = \(k)")
    let active = input.active
    var outputs: [Tensor] = []
    var used: [Int] = []
    for (i, op) in operations.enumerated() where primitives[i] != .none {
      outputs.append(op(active))
      used.append(i)
    }
    let mixed: Tensor
    if outputs.isEmpty {
      mixed = (operations[0] as! Zero)(active)
    } else {
      let w = used.count == primitives.count ? weights : weights.sliced(lower: [used[0]], upper: [used[0] + used.count])
      precondition(used == Array(used[0]..<(used[0] + used.count)), "`none` must come first among an edge's primitives")
      mixed = Tensor.weightedSum(outputs, weights: w)
    }
    if k == 1 { return mixed }
    if stride == 2 {
      guard let pooled = input.pooledBypass else { preconditionFailure("a stride-2 partial-channel edge needs the pooled bypass") }
      return Tensor.channelShuffledJoin(mixed, pooled, restChannels: 0..<pooled.shape[1], groups: k)
    }
    let c = input.x.shape[1]
    return Tensor.channelShuffledJoin(mixed, input.x, restChannels: (c / k)..<c, groups: k)
  }
}

/// A node's output as the partial-channel mixed ops leaving it read it (PC-DARTS, SPEC §5.1):
/// the first C/K channels that go through the operations and, for stride-2 edges, the other
/// channels max-pooled 2×2. Built once per node and shared by all its outgoing edges, so the
/// slice and the pooling are computed (and their gradients formed) once, not once per edge.
public struct PartialChannelInput {
  /// The node output `[N, C, H, W]`.
  public let x: Tensor
  public let partialChannels: Int
  /// `x[:, 0..<C/K]` (`x` itself when K = 1).
  public let active: Tensor
  /// `MaxPool2d(2, 2)(x[:, C/K..<C])` when built for stride-2 edges with K > 1, else nil.
  public let pooledBypass: Tensor?

  public init(_ x: Tensor, partialChannels k: Int, forStrideTwoEdges: Bool) {
    let c = x.shape[1]
    self.x = x
    partialChannels = k
    active = k == 1 ? x : x.slicedChannels(0..<(c / k))
    pooledBypass = k > 1 && forStrideTwoEdges ? x.slicedChannels((c / k)..<c).maxPool2d(kernel: 2, stride: 2) : nil
  }
}
