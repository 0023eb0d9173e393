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

  /// The mixture for input `x` (`[N, C, H, W]`) and weights `[primitives.count]`.
  public func callAsFunction(_ x: Tensor, weights: Tensor) -> Tensor {
    let c = x.shape[1]
    let k = partialChannels
    let active = k == 1 ? x : x.slicedChannels(0..<(c / k))
    var outputs: [Tensor] = []
    var used: [Int] = []
    for (i, op) in operations.enumerated() where primitives[i] != .none {
      outputs.append(op(active))
      used.append(i)
    }
    var mixed: Tensor
    if outputs.isEmpty {
      mixed = (operations[0] as! Zero)(active)
    } else {
      let w = used.count == primitives.count ? weights : weights.sliced(lower: [used[0]], upper: [used[0] + used.count])
      precondition(used == Array(used[0]..<(used[0] + used.count)), "`none` must come first among an edge's primitives")
      mixed = Tensor.weightedSum(outputs, weights: w)
    }
    if k == 1 { return mixed }
    let bypassed = (c / k)..<c
    if stride == 2 {
      let pooled = x.slicedChannels(bypassed).maxPool2d(kernel: 2, stride: 2)
      return Tensor.channelShuffledJoin(mixed, pooled, restChannels: 0..<pooled.shape[1], groups: k)
    }
    return Tensor.channelShuffledJoin(mixed, x, restChannels: bypassed, groups: k)
  }
}
