import TensorCore

/// `y = x·Wᵀ + b` (`x: [N, in]`, `weight: [out, in]`, `bias: [out]`), PyTorch's `Linear` with
/// its default initialisation `U(±1/√in)` for both.
public final class Linear: Module, Layer {
  public let weight: Parameter
  public let bias: Parameter

  public init(_ inFeatures: Int, _ outFeatures: Int, using factory: inout ParameterFactory) {
    weight = factory.uniformFanIn([outFeatures, inFeatures], fanIn: inFeatures)
    bias = factory.uniformFanIn([outFeatures], fanIn: inFeatures)
  }

  public func callAsFunction(_ input: Tensor) -> Tensor {
    input.linear(weight: weight.value, bias: bias.value)
  }
}
