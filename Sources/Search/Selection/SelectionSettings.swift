import NN
import SearchSpace

/// The settings of an architecture selection over a finished search (`darts select`,
/// `darts search --select`; written to the selection's `config.json`). The tuning SGD is
/// derived from the search's settings: learning rate `search lr / 10` (the reference's
/// 0.0025), cosine-annealed to the search's minimum (0.001) over the tuning epochs, with the
/// search's momentum (0.9), weight decay (3e-4) and gradient clip (5); Adam's α state carries
/// on.
public struct SelectionSettings: Codable, Sendable, Equatable {
  /// The selection methods (`--method` of `darts select`, `--select` of `darts search`).
  public enum Method: String, Codable, Sendable, CaseIterable {
    /// DARTS-PT, perturbation-based selection (Wang et al., ICLR 2021; SPEC-ROBUST §3).
    case pt
  }

  public var method: Method = .pt
  /// Epochs of tuning between decisions (`--decision-interval`; the reference scripts: 5).
  public var decisionInterval: Int = 5
  /// How perturbed architectures are ranked (`--criterion`).
  public var criterion: SelectionCriterion = .accuracy
  /// Cap on the steps of a tuning epoch (smoke runs); nil: the search's cap (whole epochs
  /// when it had none). Decisions always score the whole architecture split.
  public var maxStepsPerEpoch: Int?

  public init(method: Method = .pt, decisionInterval: Int = 5, criterion: SelectionCriterion = .accuracy, maxStepsPerEpoch: Int? = nil) {
    self.method = method
    self.decisionInterval = decisionInterval
    self.criterion = criterion
    self.maxStepsPerEpoch = maxStepsPerEpoch
  }

  /// The largest `--decision-interval` (an 81-epoch schedule at 5; 100 gives 1,601 epochs).
  public static let maximumDecisionInterval = 100

  /// Why a selection cannot run in a job of several processes.
  public static let singleProcessProblem = "architecture selection runs in one process: run darts select --method pt RUN_DIR after the search, without mpirun"

  /// The run directory of a selection inside its search's directory (`selection-pt`).
  public var directoryName: String { "selection-\(method.rawValue)" }

  /// A one-line reason these settings cannot run, or nil.
  public func validationProblem() -> String? {
    if !(1...Self.maximumDecisionInterval).contains(decisionInterval) {
      return "--decision-interval must be in 1...\(Self.maximumDecisionInterval), got \(decisionInterval)"
    }
    if let m = maxStepsPerEpoch, m < 1 { return "--max-steps-per-epoch must be positive, got \(m)" }
    return nil
  }

  /// Why a search of `search` cannot be selected from, or nil: P-DARTS' final supernet is
  /// rebuilt with other operations per stage, which this selection does not follow.
  public static func searchProblem(_ search: SearchSettings) -> String? {
    search.progressive == nil && search.method != .pDarts
      ? nil : "DARTS-PT selection works on DARTS and PC-DARTS searches, not P-DARTS (its stages change the supernet)"
  }

  /// The tuning schedule for cells of `nodes` intermediate nodes.
  public func schedule(nodes: Int) -> ProjectionSchedule {
    ProjectionSchedule(interval: decisionInterval, topology: CellTopology(steps: nodes))
  }

  /// The tuning SGD's learning rate at epoch `epoch` of `epochs`: cosine from `search lr / 10`
  /// to the search's minimum.
  public static func learningRate(epoch: Int, epochs: Int, search: SearchSettings) -> Double {
    CosineAnnealing(initial: search.learningRate / 10, minimum: search.learningRateMin, epochs: epochs).learningRate(epoch: epoch)
  }
}
