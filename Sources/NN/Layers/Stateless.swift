import TensorCore

/// `max(x, 0)`.
public final class ReLU: Module, Layer {
  public override init() {}
  public func callAsFunction(_ input: Tensor) -> Tensor { input.relu() }
}

/// The identity map.
public final class Identity: Module, Layer {
  public override init() {}
  public func callAsFunction(_ input: Tensor) -> Tensor { input }
}

/// Max pooling with a square window.
public final class MaxPool2d: Module, Layer {
  public let kernel: Int, stride: Int, padding: Int
  public init(kernel: Int, stride: Int, padding: Int = 0) {
    (self.kernel, self.stride, self.padding) = (kernel, stride, padding)
  }
  public func callAsFunction(_ input: Tensor) -> Tensor {
    input.maxPool2d(kernel: kernel, stride: stride, padding: padding)
  }
}

/// Average pooling with a square window (`countIncludePad: false` is DARTS's `avg_pool_3x3`).
public final class AvgPool2d: Module, Layer {
  public let kernel: Int, stride: Int, padding: Int
  public let countIncludePad: Bool
  public init(kernel: Int, stride: Int, padding: Int = 0, countIncludePad: Bool = true) {
    (self.kernel, self.stride, self.padding, self.countIncludePad) = (kernel, stride, padding, countIncludePad)
  }
  public func callAsFunction(_ input: Tensor) -> Tensor {
    input.avgPool2d(kernel: kernel, stride: stride, padding: padding, countIncludePad: countIncludePad)
  }
}

/// Global average pooling `[N, C, H, W] → [N, C, 1, 1]` (PyTorch `AdaptiveAvgPool2d(1)`).
public final class GlobalAvgPool2d: Module, Layer {
  public override init() {}
  public func callAsFunction(_ input: Tensor) -> Tensor { input.globalAveragePooled() }
}

/// Inverted dropout, active in training mode only. Draws its masks from its own generator,
/// seeded at construction (part of the checkpointed state of whoever owns it).
public final class Dropout: Module, Layer {
  /// Drop probability; may be changed between steps (P-DARTS schedules it).
  public var probability: Float
  public var generator: SeededGenerator
  public init(probability: Float, generator: SeededGenerator) {
    self.probability = probability
    self.generator = generator
  }
  public override func referenceName(forProperty label: String) -> String? { nil }
  public func callAsFunction(_ input: Tensor) -> Tensor {
    isTraining ? input.dropout(probability: probability, generator: &generator) : input
  }
}

/// Layers applied in order; children are named `0`, `1`, … as in PyTorch's `Sequential`.
public final class Sequential: Module, Layer {
  public let layers: [any Layer]
  public init(_ layers: [any Layer]) { self.layers = layers }
  public override func namedEntries() -> [(String, Entry)] {
    layers.enumerated().map { ("\($0.offset)", .module($0.element)) }
  }
  public func callAsFunction(_ input: Tensor) -> Tensor {
    layers.reduce(input) { $1($0) }
  }
}
