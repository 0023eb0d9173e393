/// Which pass of a run a step benchmark times, so that the wall time of a whole search or
/// training run can be projected from measured steps (README, "Benchmarks").
public enum BenchmarkedPass: String, CaseIterable, Sendable {
  /// The full step: for a search the architecture step and the weight step (SPEC §2.3), for
  /// training the weight step.
  case step
  /// A search's weight step alone: the warm-up epochs of PC-DARTS (α and β frozen for the first
  /// 15 of 50, SPEC §5.4) and of each P-DARTS stage.
  case weightsOnly = "weights-only"
  /// An evaluation-mode forward pass of the batch without gradients (running BN statistics,
  /// no drop path): the validation passes of a search and the test pass of a training epoch.
  case evaluation

  /// How reports name it after the step's label ("" for the full step).
  public var suffix: String {
    switch self {
    case .step: ""
    case .weightsOnly: " (weights only)"
    case .evaluation: " (evaluation)"
    }
  }
}
