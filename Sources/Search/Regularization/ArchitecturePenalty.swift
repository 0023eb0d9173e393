import NN
import Runs
import TensorCore

/// A term added to the loss of the α step, `L_α = L_val(w, α) + λ(epoch)·R(α)` with λ fixed
/// within an epoch: the hook through which a regulariser of the architecture parameters
/// (β-DARTS, ``BetaRegularization``) changes the architecture step, and nothing else. R
/// depends on α only, so its gradient is added to the α gradient of the validation loss
/// before the gradients are checked, clipped and applied.
public protocol ArchitecturePenalty: Sendable {
  /// R: a differentiable scalar of the architecture parameters (named as in
  /// ``SearchNetwork/architectureParameters``: `alphas_normal`, `alphas_reduce`, and with edge
  /// normalisation `betas_normal`, `betas_reduce`).
  func penalty(_ architecture: [(name: String, value: Tensor)]) -> Tensor

  /// λ of epoch `epoch` (0-based; for P-DARTS, counted within the stage, whose α is new).
  func weight(epoch: Int) -> Double

  /// Fields of the epoch events that describe the term in epoch `epoch`.
  func eventFields(epoch: Int) -> [String: JSONValue]
}

/// A penalty and the epoch whose λ the α steps use (``SearchRun`` sets it at the start of
/// every epoch).
public struct ArchitectureRegularization: Sendable {
  public let penalty: any ArchitecturePenalty
  public var epoch: Int

  public init(_ penalty: any ArchitecturePenalty, epoch: Int = 0) {
    self.penalty = penalty
    self.epoch = epoch
  }

  /// `∇ λ·R` with respect to each architecture parameter, in the order of `architecture`.
  public func gradients(_ architecture: [(name: String, parameter: Parameter)]) -> [Tensor] {
    let values = architecture.map(\.parameter.value)
    let term = penalty.penalty(architecture.map { ($0.name, $0.parameter.value) }) * Float(penalty.weight(epoch: epoch))
    return TensorCore.gradients(of: term, wrt: values)
  }
}
