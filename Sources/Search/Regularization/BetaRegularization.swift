import Runs
import TensorCore

/// β-DARTS' "beta decay" (Ye et al., CVPR 2022; SPEC-ROBUST §1): the α step minimises
/// `L_val + λ(e)·L_β(α)` with the row-wise log-sum-exp of the raw α,
/// `L_β = (1/R)·Σ_rows log Σ_k exp(α[r, k])`, the mean over all `R` rows of `alphas_normal`
/// and `alphas_reduce` together (28 for 4-node cells; the average of the two per-cell means,
/// SPEC-ROBUST's recommendation, since the reference's DARTS-space path does not run). Its
/// gradient `softmax(α[r])/R` pushes every row down, the dominant entries most. Edge weights
/// β (PC-DARTS) are not penalised.
///
/// `λ(e) = lambdaMax·e/lambdaDivisor` (epoch `e` 0-based): the reference hard-codes 50·e/100,
/// so λ = 0 in the first epoch and 24.5 in the last of 50. First order only: the reference's
/// unrolled (second-order) path does not add the term, and settings with `--order 2` are
/// refused. The weight step is unchanged; Adam keeps its own weight decay of α.
public struct BetaRegularization: ArchitecturePenalty, Codable, Equatable {
  /// λ at epoch `lambdaDivisor` (default 50).
  public var lambdaMax: Double
  /// The epoch count over which λ grows to `lambdaMax` (default 100).
  public var lambdaDivisor: Double

  public init(lambdaMax: Double = 50, lambdaDivisor: Double = 100) {
    self.lambdaMax = lambdaMax
    self.lambdaDivisor = lambdaDivisor
  }

  /// `lambdaMax·epoch/lambdaDivisor` (defaults: 0.5·epoch; 0, 5, 24.5 at epochs 0, 10, 49).
  public func weight(epoch: Int) -> Double { lambdaMax * Double(epoch) / lambdaDivisor }

  /// L_β of the α tensors (`alphas_normal`, `alphas_reduce`) among `architecture`.
  public func penalty(_ architecture: [(name: String, value: Tensor)]) -> Tensor {
    Self.penalty(architecture.filter { $0.name.hasPrefix("alphas_") }.map(\.value))
  }

  /// `L_β` of raw architecture tensors `[rows, K]` (K may differ between tensors): the mean
  /// over all their rows of each row's log-sum-exp. Example: one row `[0, ln 2, ln 3]` gives
  /// `ln 6` with gradient `[1/6, 1/3, 1/2]`.
  public static func penalty(_ alphas: [Tensor]) -> Tensor {
    precondition(!alphas.isEmpty && alphas.allSatisfy { $0.rank == 2 }, "L_β needs [rows, K] architecture tensors")
    let rows = alphas.map { $0.shape[0] }.reduce(0, +)
    let sums = alphas.map { $0.logSumExpAlongLastAxis().sum() }
    return sums.dropFirst().reduce(sums[0], +) * (1 / Float(rows))
  }

  public func eventFields(epoch: Int) -> [String: JSONValue] { ["beta_lambda": .double(weight(epoch: epoch))] }

  /// Why the term cannot be used with these settings, or nil.
  func settingsProblem(order: Int) -> String? {
    if order != 1 { return "--regularizer beta is first order only (β-DARTS adds its term on the first-order α step): use --order 1" }
    if lambdaMax < 0 { return "--beta-lambda-max must not be negative, got \(lambdaMax)" }
    if lambdaDivisor <= 0 { return "--beta-lambda-divisor must be positive, got \(lambdaDivisor)" }
    return nil
  }
}
