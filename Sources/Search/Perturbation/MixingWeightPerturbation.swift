import Runs

/// SDARTS (Chen & Hsieh, ICML 2020; SPEC-ROBUST §2): the weight step mixes the operations by
/// perturbed, projected probabilities `p̃` instead of `p = softmax(α)`, which smooths the
/// validation loss landscape in α and keeps the search from collapsing. The α step is plain
/// DARTS on the unperturbed α.
///
/// - ``Kind/random`` (SDARTS-RS): `p̃ = proj(p + δ)`, `δ ~ U(−ε, ε)` per entry.
/// - ``Kind/adversarial`` (SDARTS-ADV): a 7-step ℓ∞ PGD attack on `p̃` that raises the
///   training loss (``WeightStepPerturbation``).
///
/// ε grows linearly within the epochs, `ε(e) = εstart + (εmax − εstart)·e/epochs` (epoch `e`
/// 0-based; P-DARTS: within the stage): the reference's 0.03 at epoch 0, 0.165 at 25 and
/// 0.2946 at 49 of 50, never reaching εmax. PC-DARTS' edge weights β are not perturbed.
public struct MixingWeightPerturbation: Codable, Equatable, Sendable {
  /// The choices of `--perturb` besides `none`.
  public enum Kind: String, Codable, Sendable, CaseIterable {
    case random, adversarial
  }

  public var kind: Kind
  /// ε at epoch 0 (default 0.03).
  public var epsilonStart: Double
  /// The ε the schedule heads for at epoch `epochs` (default 0.3).
  public var epsilonMax: Double

  public init(kind: Kind, epsilonStart: Double = 0.03, epsilonMax: Double = 0.3) {
    self.kind = kind
    self.epsilonStart = epsilonStart
    self.epsilonMax = epsilonMax
  }

  /// PGD steps of the attack.
  public static let attackSteps = 7

  /// ε of epoch `epoch` of `epochs`: `εstart + (εmax − εstart)·epoch/epochs`.
  public func epsilon(epoch: Int, epochs: Int) -> Double {
    epsilonStart + (epsilonMax - epsilonStart) * Double(epoch) / Double(epochs)
  }

  /// The attack's step size at `epsilon`: `2ε/7` (0.085714 at ε = 0.3).
  public static func attackStepSize(epsilon: Double) -> Double { 2 * epsilon / Double(attackSteps) }

  /// Fields of the epoch events at `epsilon`.
  public func eventFields(epsilon: Double) -> [String: JSONValue] {
    ["perturb": .string(kind.rawValue), "perturb_epsilon": .double(epsilon)]
  }

  /// Why the perturbation cannot be used, or nil.
  func settingsProblem() -> String? {
    if !epsilonStart.isFinite || epsilonStart < 0 { return "--perturb-epsilon-start must be finite and not negative, got \(epsilonStart)" }
    if !epsilonMax.isFinite || epsilonMax < 0 { return "--perturb-epsilon must be finite and not negative, got \(epsilonMax)" }
    if epsilonMax > 1 || epsilonStart > 1 { return "--perturb-epsilon and --perturb-epsilon-start must be at most 1 (a probability)" }
    return nil
  }
}
