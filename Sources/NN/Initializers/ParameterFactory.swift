import Foundation
import TensorCore

/// Creates parameters with PyTorch's default initialisers from a seeded generator on a
/// backend. Pass one factory (inout) through the construction of a network: the same seed
/// builds the same network.
public struct ParameterFactory: Sendable {
  public let backend: any Backend
  public var generator: SeededGenerator

  public init(backend: any Backend, seed: UInt64) {
    self.backend = backend
    self.generator = SeededGenerator(seed: seed)
  }

  /// `U(−1/√fanIn, 1/√fanIn)`: PyTorch's default for convolution and linear weights
  /// (`kaiming_uniform_` with `a = √5`) and for linear biases. For a convolution
  /// `fanIn = (inChannels/groups)·kH·kW`.
  public mutating func uniformFanIn(_ shape: [Int], fanIn: Int) -> Parameter {
    let bound = 1 / Float(fanIn).squareRoot()
    return Parameter(Tensor.randomUniform(shape, low: -bound, high: bound, generator: &generator, on: backend), kind: .weight)
  }

  /// `U(−bound, bound)` (the recurrent models' `INITRANGE` = 0.04, SPEC-RNN §3).
  public mutating func uniform(_ shape: [Int], bound: Float, kind: ParameterKind = .weight) -> Parameter {
    Parameter(Tensor.randomUniform(shape, low: -bound, high: bound, generator: &generator, on: backend), kind: kind)
  }

  /// A parameter of `kind` filled with `value`.
  public func constant(_ value: Float, shape: [Int], kind: ParameterKind) -> Parameter {
    Parameter(Tensor(repeating: value, shape: shape, on: backend), kind: kind)
  }

  /// `scale · N(0, 1)` (DARTS α initialisation uses `scale = 1e-3`).
  public mutating func normal(_ shape: [Int], scale: Float, kind: ParameterKind) -> Parameter {
    Parameter(Tensor.randomNormal(shape, standardDeviation: scale, generator: &generator, on: backend), kind: kind)
  }
}
