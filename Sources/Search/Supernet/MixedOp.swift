import NN
import SearchSpace
import TensorCore

/// One edge of the supernet: every candidate operation, to be applied to the input and summed
/// with architecture weights, `Σ_o w_o·o(x)` (DARTS, SPEC §1.5; the sum itself is formed per
/// node by `SearchCell`).
///
/// With partial channels K > 1 (PC-DARTS, SPEC §5.1) the operations see only the first C/K
/// channels; the other channels bypass them (max-pooled 2×2 on stride-2 edges), are
/// concatenated after the mixture and the result is channel-shuffled with K groups.
///
/// With DARTS-' auxiliary skip (SPEC-ROBUST §5, ``AuxiliarySkip``) the edge also holds
/// `auxiliary`: the identity on stride-1 edges, a `FactorizedReduce(C, C, affine: false)` on
/// stride-2 edges (reference name `auxiliary_op`), whose output the cell adds to the node
/// with the epoch's β, outside the softmax.
public final class MixedOp: Module {
  public let primitives: [Primitive]
  public let operations: [any Layer]
  /// DARTS-' auxiliary skip of the whole edge input (nil without it).
  public let auxiliary: (any Layer)?
  public let stride: Int
  public let partialChannels: Int

  public init(
    channels: Int, stride: Int, primitives: [Primitive], partialChannels: Int, skipDropout: Bool,
    auxiliarySkip: Bool, using factory: inout ParameterFactory
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
    precondition(!auxiliarySkip || partialChannels == 1, "the auxiliary skip needs whole edges (K = 1), got K = \(partialChannels)")
    if !auxiliarySkip {
      auxiliary = nil
    } else if stride == 1 {
      auxiliary = Identity()
    } else {
      auxiliary = FactorizedReduce(channels, channels, affine: false, using: &factory)
    }
  }

  public override func referenceName(forProperty label: String) -> String? {
    ["operations": "_ops", "auxiliary": "auxiliary_op"][label]
  }

  /// The outputs of the operations other than `none` on the edge's active channels
  /// `[N, C/K, H, W]`, and the range of `primitives` they belong to: the terms of the mixture
  /// `Σ_o w_o·o(x)`, which the cell sums over all edges of a node in one pass. `none` adds
  /// nothing (its weight keeps its softmax mass and gets a zero gradient); an edge with only
  /// `none` yields its zero output under the `none` weight.
  public func operationOutputs(_ input: PartialChannelInput) -> (outputs: [Tensor], primitives: Range<Int>) {
    precondition(input.partialChannels == partialChannels, "edge input split for K = \(input.partialChannels), edge has K = \(partialChannels)")
    let used = primitives.indices.filter { primitives[$0] != .none }
    guard let first = used.first else { return ([(operations[0] as! Zero)(input.active)], 0..<1) }
    precondition(used == Array(first..<(first + used.count)), "`none` must come first among an edge's primitives")
    return (used.map { operations[$0](input.active) }, first..<(first + used.count))
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

  /// The channels that bypass the operations of an edge with `stride`: `x[:, C/K..<C]` or,
  /// for stride 2, the pooled bypass (nil when K = 1).
  public func bypass(stride: Int) -> (tensor: Tensor, channels: Range<Int>)? {
    guard partialChannels > 1 else { return nil }
    if stride == 2 {
      guard let pooledBypass else { preconditionFailure("a stride-2 partial-channel edge needs the pooled bypass") }
      return (pooledBypass, 0..<pooledBypass.shape[1])
    }
    let c = x.shape[1]
    return (x, (c / partialChannels)..<c)
  }
}
