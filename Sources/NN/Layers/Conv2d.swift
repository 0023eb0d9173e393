import TensorCore

/// 2-D convolution without bias (every convolution in DARTS networks has `bias=False`).
/// Weight `[outChannels, inChannels/groups, kH, kW]`, PyTorch default initialisation.
public final class Conv2d: Module, Layer {
  public let weight: Parameter
  public let stride: (Int, Int)
  public let padding: (Int, Int)
  public let dilation: (Int, Int)
  public let groups: Int

  public init(
    _ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
    padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1,
    using factory: inout ParameterFactory
  ) {
    precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels must divide into \(groups) groups")
    let fanIn = inChannels / groups * kernel.0 * kernel.1
    weight = factory.uniformFanIn([outChannels, inChannels / groups, kernel.0, kernel.1], fanIn: fanIn)
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    self.groups = groups
  }

  /// A square-kernel convolution.
  public convenience init(
    _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
    dilation: Int = 1, groups: Int = 1, using factory: inout ParameterFactory
  ) {
    self.init(inChannels, outChannels, kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: groups, using: &factory)
  }

  public func callAsFunction(_ input: Tensor) -> Tensor {
    callAsFunction(input, rectifyingInput: false)
  }

  /// The convolution of `relu(input)` when `rectifyingInput` (depthwise only; the ReLU is
  /// fused into the kernel's input read and never materialised).
  public func callAsFunction(_ input: Tensor, rectifyingInput: Bool) -> Tensor {
    input.conv2d(weight: weight.value, stride: stride, padding: padding, dilation: dilation, groups: groups, rectifyingInput: rectifyingInput)
  }
}
