import NN
import TensorCore

/// Builds the module of a primitive (SPEC §1.1–1.2; `noise`: SPEC-ROBUST, search-space caveat).
///
/// `noise` takes its own generator, split off `factory`'s (so it draws nothing from the
/// factory for any other primitive); a search run reseeds it before every step.
///
/// - Parameters:
///   - channels: input and output channels.
///   - stride: 1, or 2 on the input edges of a reduction cell.
///   - affine: BN γ/β (false inside the search network, true in evaluation networks).
///   - poolNorm: follow pooling by `BatchNorm2d(affine: false)` (search network only).
public func makeOperation(
  _ primitive: Primitive, channels: Int, stride: Int, affine: Bool, poolNorm: Bool,
  using factory: inout ParameterFactory
) -> any Layer {
  switch primitive {
  case .none:
    return Zero(stride: stride)
  case .noise:
    return GaussianNoise(stride: stride, generator: factory.generator.split())
  case .maxPool3x3, .avgPool3x3:
    let pool: any Layer = primitive == .maxPool3x3
      ? MaxPool2d(kernel: 3, stride: stride, padding: 1)
      : AvgPool2d(kernel: 3, stride: stride, padding: 1, countIncludePad: false)
    return poolNorm ? Sequential([pool, BatchNorm2d(channels, affine: false, using: &factory)]) : pool
  case .skipConnect:
    return stride == 1 ? Identity() : FactorizedReduce(channels, channels, affine: affine, using: &factory)
  case .sepConv3x3:
    return SepConv(channels, channels, kernel: 3, stride: stride, padding: 1, affine: affine, using: &factory)
  case .sepConv5x5:
    return SepConv(channels, channels, kernel: 5, stride: stride, padding: 2, affine: affine, using: &factory)
  case .sepConv7x7:
    return SepConv(channels, channels, kernel: 7, stride: stride, padding: 3, affine: affine, using: &factory)
  case .dilConv3x3:
    return DilConv(channels, channels, kernel: 3, stride: stride, padding: 2, dilation: 2, affine: affine, using: &factory)
  case .dilConv5x5:
    return DilConv(channels, channels, kernel: 5, stride: stride, padding: 4, dilation: 2, affine: affine, using: &factory)
  case .conv7x1And1x7:
    return Sequential([
      ReLU(),
      Conv2d(channels, channels, kernel: (1, 7), stride: (1, stride), padding: (0, 3), using: &factory),
      Conv2d(channels, channels, kernel: (7, 1), stride: (stride, 1), padding: (3, 0), using: &factory),
      BatchNorm2d(channels, affine: affine, using: &factory),
    ])
  }
}
