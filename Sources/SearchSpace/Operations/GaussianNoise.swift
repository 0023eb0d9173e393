import NN
import TensorCore

/// The `noise` operation of RobustDARTS' space S4 (Zela et al., ICLR 2020; SPEC-ROBUST,
/// search-space caveat): fresh standard-normal values of the shape of `x[:, :, ::s, ::s]`
/// (`[N, C, ⌈H/s⌉, ⌈W/s⌉]`), ignoring the input's values, in training and evaluation mode
/// alike. No parameters; its output has no gradient path to the input.
///
/// The values come from ``generator``, so a run that reseeds it before each step (as
/// `SearchRun` does, from the seed and the position) draws the same noise when resumed.
public final class GaussianNoise: Module, RandomLayer {
  public let stride: Int
  public var generator: SeededGenerator

  public init(stride: Int, generator: SeededGenerator) {
    self.stride = stride
    self.generator = generator
  }

  public override func referenceName(forProperty label: String) -> String? { nil }

  /// `[N, C, ⌈H/s⌉, ⌈W/s⌉]` standard-normal values for an input `[N, C, H, W]`.
  public func callAsFunction(_ input: Tensor) -> Tensor {
    let s = input.shape
    return Tensor.randomNormal(
      [s[0], s[1], (s[2] + stride - 1) / stride, (s[3] + stride - 1) / stride], generator: &generator, on: input.backend)
  }
}
