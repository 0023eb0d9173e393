import TensorCore

/// The three groups a module's tensors belong to. Optimisers receive exactly one group; no
/// name filtering decides what is trained.
public enum ParameterKind: String, Codable, Sendable, CaseIterable {
  /// Trained by the weight optimiser (convolution and linear weights, BN γ/β).
  case weight
  /// State that is saved but not trained (BN running mean/variance and batch counter).
  case buffer
  /// Architecture parameters (DARTS α, PC-DARTS β), trained by the architecture optimiser.
  case architecture
}

/// A named slot holding one tensor of a module. Modules own their parameters; the value is
/// changed only through `Module.update(parameters:)`, optimisers and running-statistics
/// updates, which replace it as a whole (copy-on-write keeps other holders unaffected).
public final class Parameter: @unchecked Sendable {
  public let kind: ParameterKind
  /// The current value. Weight and architecture values are gradient leaves.
  public internal(set) var value: Tensor

  public init(_ value: Tensor, kind: ParameterKind) {
    self.kind = kind
    self.value = kind == .buffer ? value.detached() : value.requiringGradient()
  }

  /// Replaces the value (same shape), keeping it a gradient leaf for trainable kinds.
  public func assign(_ newValue: Tensor) {
    precondition(newValue.shape == value.shape, "assigning \(newValue.shape) to a parameter of shape \(value.shape)")
    value = kind == .buffer ? newValue.detached() : newValue.requiringGradient()
  }
}
