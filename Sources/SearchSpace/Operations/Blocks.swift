import NN
import TensorCore

/// ReLU → Conv k×k → BN (SPEC §1.2); the 1×1 version is the cell's preprocessing layer.
/// Reference names `op.1.weight`, `op.2.*`. The ReLU is fused into the convolution (its output
/// is not kept for the backward pass).
public final class ReLUConvBN: Module, Layer {
  public let op: Sequential

  public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, padding: Int, affine: Bool, using factory: inout ParameterFactory) {
    op = Sequential([
      ReLU(),
      Conv2d(inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, using: &factory),
      BatchNorm2d(outChannels, affine: affine, using: &factory),
    ])
  }

  public func callAsFunction(_ input: Tensor) -> Tensor {
    let l = op.layers
    return (l[2] as! BatchNorm2d)((l[1] as! Conv2d)(input, rectifyingInput: true))
  }
}

/// Halves H and W with two 1×1 stride-2 convolutions, the second on the input shifted by one
/// pixel (`x[:, :, 1:, 1:]`), concatenated (first branch first) and batch-normalised
/// (SPEC §1.2). Requires an even `outChannels`. Reference names `conv_1.weight`,
/// `conv_2.weight`, `bn.*`.
public final class FactorizedReduce: Module, Layer {
  public let firstConvolution: Conv2d
  public let secondConvolution: Conv2d
  public let norm: BatchNorm2d

  public init(_ inChannels: Int, _ outChannels: Int, affine: Bool, using factory: inout ParameterFactory) {
    precondition(outChannels % 2 == 0, "FactorizedReduce needs an even channel count, got \(outChannels)")
    firstConvolution = Conv2d(inChannels, outChannels / 2, kernel: 1, stride: 2, using: &factory)
    secondConvolution = Conv2d(inChannels, outChannels / 2, kernel: 1, stride: 2, using: &factory)
    norm = BatchNorm2d(outChannels, affine: affine, using: &factory)
  }

  public override func referenceName(forProperty label: String) -> String? {
    ["firstConvolution": "conv_1", "secondConvolution": "conv_2", "norm": "bn"][label] ?? label
  }

  public func callAsFunction(_ input: Tensor) -> Tensor {
    // relu(x)[:, :, 1:, 1:] = relu(x[:, :, 1:, 1:]): both ReLUs are fused into the convolutions.
    let shifted = input.sliced(lower: [0, 0, 1, 1], upper: input.shape)
    return norm(Tensor.concatenated(
      [firstConvolution(input, rectifyingInput: true), secondConvolution(shifted, rectifyingInput: true)], alongAxis: 1))
  }
}

/// Depthwise-separable convolution applied twice (SPEC §1.2): ReLU → dw k×k (stride) → pw 1×1 →
/// BN → ReLU → dw k×k (stride 1) → pw 1×1 → BN. Reference names `op.1`, `op.2`, `op.3`,
/// `op.5`, `op.6`, `op.7`. Each ReLU is fused into the depthwise convolution after it.
public final class SepConv: Module, Layer {
  public let op: Sequential

  public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, padding: Int, affine: Bool, using factory: inout ParameterFactory) {
    op = Sequential([
      ReLU(),
      Conv2d(inChannels, inChannels, kernel: kernel, stride: stride, padding: padding, groups: inChannels, using: &factory),
      Conv2d(inChannels, inChannels, kernel: 1, using: &factory),
      BatchNorm2d(inChannels, affine: affine, using: &factory),
      ReLU(),
      Conv2d(inChannels, inChannels, kernel: kernel, stride: 1, padding: padding, groups: inChannels, using: &factory),
      Conv2d(inChannels, outChannels, kernel: 1, using: &factory),
      BatchNorm2d(outChannels, affine: affine, using: &factory),
    ])
  }

  public func callAsFunction(_ input: Tensor) -> Tensor {
    let l = op.layers
    let (depthwise1, pointwise1, norm1) = (l[1] as! Conv2d, l[2] as! Conv2d, l[3] as! BatchNorm2d)
    let (depthwise2, pointwise2, norm2) = (l[5] as! Conv2d, l[6] as! Conv2d, l[7] as! BatchNorm2d)
    let half = norm1(pointwise1(depthwise1(input, rectifyingInput: true)))
    return norm2(pointwise2(depthwise2(half, rectifyingInput: true)))
  }
}

/// Dilated depthwise-separable convolution (SPEC §1.2): ReLU → dw k×k (stride, dilation) →
/// pw 1×1 → BN. Reference names `op.1`, `op.2`, `op.3`. The ReLU is fused into the depthwise
/// convolution.
public final class DilConv: Module, Layer {
  public let op: Sequential

  public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, affine: Bool, using factory: inout ParameterFactory) {
    op = Sequential([
      ReLU(),
      Conv2d(inChannels, inChannels, kernel: kernel, stride: stride, padding: padding, dilation: dilation, groups: inChannels, using: &factory),
      Conv2d(inChannels, outChannels, kernel: 1, using: &factory),
      BatchNorm2d(outChannels, affine: affine, using: &factory),
    ])
  }

  public func callAsFunction(_ input: Tensor) -> Tensor {
    let l = op.layers
    let (depthwise, pointwise, norm) = (l[1] as! Conv2d, l[2] as! Conv2d, l[3] as! BatchNorm2d)
    return norm(pointwise(depthwise(input, rectifyingInput: true)))
  }
}

/// The `none` operation: zeros of the output shape (stride 2 keeps ⌈H/2⌉ × ⌈W/2⌉, the shape of
/// `x[:, :, ::2, ::2]`). Its output never depends on the input.
public final class Zero: Module, Layer {
  public let stride: Int

  public init(stride: Int) { self.stride = stride }

  public override func referenceName(forProperty label: String) -> String? { nil }

  /// The output shape for an input shape.
  public func outputShape(_ shape: [Int]) -> [Int] {
    [shape[0], shape[1], (shape[2] + stride - 1) / stride, (shape[3] + stride - 1) / stride]
  }

  public func callAsFunction(_ input: Tensor) -> Tensor {
    Tensor.zeros(outputShape(input.shape), on: input.backend)
  }
}

/// The two input layers of a cell (SPEC §1.3): c_{k−2} through a FactorizedReduce when the
/// previous cell reduced (it then has twice the resolution), else a 1×1 ReLUConvBN; c_{k−1}
/// through a 1×1 ReLUConvBN. Both map to `channels`.
public func makePreprocessing(
  previousPrevious: Int, previous: Int, channels: Int, reductionPrevious: Bool, affine: Bool,
  using factory: inout ParameterFactory
) -> (any Layer, ReLUConvBN) {
  let first: any Layer = reductionPrevious
    ? FactorizedReduce(previousPrevious, channels, affine: affine, using: &factory)
    : ReLUConvBN(previousPrevious, channels, kernel: 1, stride: 1, padding: 0, affine: affine, using: &factory)
  return (first, ReLUConvBN(previous, channels, kernel: 1, stride: 1, padding: 0, affine: affine, using: &factory))
}

/// The ImageNet stem (SPEC §5.5, §6.2), three 3×3 stride-2 convolutions (224 → 28):
/// `stem0` = Conv(inputChannels → channels/2) → BN → ReLU → Conv(→ channels) → BN (224 → 56),
/// `stem1` = ReLU → Conv(channels → channels) → BN (56 → 28). All convolutions pad 1 without
/// bias; BNs are affine. Reference names: `stem0.0.weight`, `stem0.1.*`, `stem0.3.weight`,
/// `stem0.4.*`, `stem1.1.weight`, `stem1.2.*`. The search network uses `channels` = 3C, the
/// evaluation network C.
public func makeImageNetStem(
  inputChannels: Int, channels: Int, using factory: inout ParameterFactory
) -> (stem0: Sequential, stem1: Sequential) {
  let stem0 = Sequential([
    Conv2d(inputChannels, channels / 2, kernel: 3, stride: 2, padding: 1, using: &factory),
    BatchNorm2d(channels / 2, using: &factory),
    ReLU(),
    Conv2d(channels / 2, channels, kernel: 3, stride: 2, padding: 1, using: &factory),
    BatchNorm2d(channels, using: &factory),
  ])
  let stem1 = Sequential([
    ReLU(),
    Conv2d(channels, channels, kernel: 3, stride: 2, padding: 1, using: &factory),
    BatchNorm2d(channels, using: &factory),
  ])
  return (stem0, stem1)
}
