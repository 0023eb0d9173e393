import Datasets
import Runs
import SearchSpace
import TensorCore

/// What one search method decides in a ``SearchRun``: its stages and each stage's supernet, the
/// operations carried from stage to stage, the skip-connect dropout of each epoch, which
/// epochs train α and evaluate the architecture split, the α/β gradient clip and the final
/// genotype, and the method's reference and demo settings. `SearchRun` drives its epoch loop
/// through these answers only, so a new method is one new type (and its line in
/// ``SearchSettings/Method/strategies``).
///
/// The defaults below are those of a single-stage method (DARTS): one stage with every
/// operation of the settings' supernet, no skip dropout, the genotype of SPEC §2.8.
///
/// The stage state (``SearchRun/ProgressiveState``, the checkpoint's `progressive` field) is
/// nil for single-stage methods; a multi-stage method creates it in ``initialStages(all:)``.
public protocol SearchStrategy: Sendable {
  /// The method's name in `--method` and `config.json` ("p-darts").
  static var name: String { get }

  /// The method's name in prose ("P-DARTS").
  static var displayName: String { get }

  /// The strategy of a run of `settings` (valid: ``SearchSettings/validationProblem()`` is nil).
  init(settings: SearchSettings)

  /// A one-line reason `settings` cannot run with this method, beyond the checks that
  /// ``SearchSettings/validationProblem()`` makes for every method, or nil.
  static func settingsProblem(_ settings: SearchSettings) -> String?

  /// The settings of the run.
  var settings: SearchSettings { get }

  /// Turns the DARTS defaults (`SearchSettings()`) into the method's reference settings.
  static func reference(_ settings: inout SearchSettings)

  /// Adjusts the demo settings (``SearchSettings/demo(for:)``) to the method.
  static func demo(_ settings: inout SearchSettings)

  /// Number of stages; the loop runs `settings.epochs` epochs in each.
  var stageCount: Int { get }

  /// How the architecture split is read: a fresh random batch at each step (DARTS), or as an
  /// iterator over shuffled epochs (P-DARTS, SPEC §2.1).
  var architectureOrder: BatchSampler.Order { get }

  /// The global-norm clip of the α/β gradients.
  var architectureGradientClip: Float? { get }

  /// The stage state of a new run whose first supernet is `all`.
  func initialStages(all: SearchNetworkConfiguration) -> SearchRun.ProgressiveState?

  /// The supernet of the running stage (`base`: the settings' supernet) and the seed its
  /// weights and α are drawn from.
  func network(_ base: SearchNetworkConfiguration, stages: SearchRun.ProgressiveState?) -> (configuration: SearchNetworkConfiguration, seed: UInt64)

  /// The supernet of every stage as the memory estimate counts it (a later stage with its
  /// cheapest operations, since which ones survive is not known before the run).
  func memoryConfigurations(_ base: SearchNetworkConfiguration) -> [SearchNetworkConfiguration]

  /// How progress lines and errors name the supernet of `stage` ("the supernet").
  func supernetName(stage: Int) -> String

  /// The prefix of a progress line of `stage` ("" or "stage 1/3 ").
  func progressLabel(stage: Int) -> String

  /// Fields every epoch event of `stage` carries.
  func eventFields(stage: Int) -> [String: JSONValue]

  /// The skip-connect dropout rate of epoch `epoch` (within its stage) of `stage`, or nil
  /// for a method without skip dropout.
  func skipDropoutRate(stage: Int, epoch: Int) -> Double?

  /// Whether epoch `epoch` (within its stage) updates α (false during the warm-up).
  func updatesArchitecture(epoch: Int) -> Bool

  /// Whether epoch `epoch` (within its stage) ends with an evaluation of the architecture split.
  func validates(epoch: Int) -> Bool

  /// A one-line reason a checkpoint's stage state cannot belong to this run at `position`
  /// with cells of `topology`, or nil.
  func stagesProblem(_ stages: SearchRun.ProgressiveState?, position: BatchPosition, topology: CellTopology) -> String?

  /// The stage state after the running stage ended with `network`: its operations dropped and
  /// its record kept, the stage counter advanced.
  func advance(_ stages: SearchRun.ProgressiveState?, from network: SearchNetwork) -> SearchRun.ProgressiveState?

  /// The genotype a finished search reports, with any events and lines that explain it in
  /// `journal`, and the fields it adds to `architecture.json`. `stages` receives the record of
  /// the last stage.
  func finish(
    _ network: SearchNetwork, stages: inout SearchRun.ProgressiveState?, journal: RunJournal
  ) throws -> (genotype: Genotype, architectureFields: [String: JSONValue])

  /// Fields of `architecture.json` that describe the stage state (for example finished
  /// stages), computed on `backend`.
  func architectureFields(_ stages: SearchRun.ProgressiveState?, on backend: any Backend) -> [String: JSONValue]
}

/// The single-stage answers (DARTS and PC-DARTS).
extension SearchStrategy {
  public static func settingsProblem(_ settings: SearchSettings) -> String? {
    settings.progressive == nil ? nil : "stage settings (--add-layers, --add-width, --skip-dropout, --max-skip) are for --method p-darts only"
  }
  public static func reference(_ settings: inout SearchSettings) {}
  public static func demo(_ settings: inout SearchSettings) {}
  public var stageCount: Int { 1 }
  public var architectureOrder: BatchSampler.Order { .freshRandom }
  public var architectureGradientClip: Float? { settings.architectureGradientClip.map(Float.init) }
  public func initialStages(all: SearchNetworkConfiguration) -> SearchRun.ProgressiveState? { nil }
  public func network(_ base: SearchNetworkConfiguration, stages: SearchRun.ProgressiveState?) -> (configuration: SearchNetworkConfiguration, seed: UInt64) {
    (base, settings.seed)
  }
  public func memoryConfigurations(_ base: SearchNetworkConfiguration) -> [SearchNetworkConfiguration] { [base] }
  public func supernetName(stage: Int) -> String { "the supernet" }
  public func progressLabel(stage: Int) -> String { "" }
  public func eventFields(stage: Int) -> [String: JSONValue] { [:] }
  public func skipDropoutRate(stage: Int, epoch: Int) -> Double? { nil }
  public func updatesArchitecture(epoch: Int) -> Bool { epoch >= settings.architectureWarmupEpochs }
  public func validates(epoch: Int) -> Bool { settings.validates(epoch: epoch) }
  public func stagesProblem(_ stages: SearchRun.ProgressiveState?, position: BatchPosition, topology: CellTopology) -> String? {
    stages == nil ? nil : "the checkpoint has P-DARTS stages but the run is not P-DARTS"
  }
  public func advance(_ stages: SearchRun.ProgressiveState?, from network: SearchNetwork) -> SearchRun.ProgressiveState? { stages }
  public func finish(
    _ network: SearchNetwork, stages: inout SearchRun.ProgressiveState?, journal: RunJournal
  ) throws -> (genotype: Genotype, architectureFields: [String: JSONValue]) {
    (GenotypeDerivation.genotype(of: network), [:])
  }
  public func architectureFields(_ stages: SearchRun.ProgressiveState?, on backend: any Backend) -> [String: JSONValue] { [:] }
}

extension SearchSettings {
  /// The strategy of these settings' method.
  public var strategy: any SearchStrategy { method.strategy.init(settings: self) }
}
