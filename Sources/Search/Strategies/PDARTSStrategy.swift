import Datasets
import NN
import Runs
import SearchSpace
import TensorCore

/// P-DARTS (SPEC §4): the epoch loop once per stage of ``ProgressiveSettings``, each stage a
/// deeper (or wider) supernet over the operations the previous stage kept; skip-connect
/// dropout decaying within a stage; the α split read as an iterator; α/β gradients clipped to
/// norm 5 unless the settings say otherwise; and a final genotype whose normal cell has at
/// most `maxSkip` skip-connects.
///
/// Positions count epochs across stages (stage `s` owns epochs `s·E ..< (s+1)·E`); the
/// network of stage `s > 0` is drawn from `(seed, stage)`.
///
/// The first stage searches every operation of the settings' space: `darts` 8 → 5 → 3 → 1,
/// `darts-no-none` 7 → 5 → 3 → 1 (`none` is then never there to be forced out, and the skip
/// cap works as usual). Spaces with no more operations per edge than the first stage keeps
/// (RobustDARTS S1–S4, 2 or 3) are refused by ``settingsProblem(_:)``.
public struct PDARTSStrategy: SearchStrategy {
  public static let name = "p-darts"
  public static let displayName = "P-DARTS"
  public let settings: SearchSettings
  public init(settings: SearchSettings) { self.settings = settings }

  /// First order only, with a valid stage schedule (``ProgressiveSettings``).
  public static func settingsProblem(_ s: SearchSettings) -> String? {
    if s.order != 1 { return "--method p-darts is first order only (--order 1)" }
    guard let progressive = s.progressive else { return "--method p-darts needs its stage settings" }
    if let first = progressive.operationsKept.first, s.space.operationCount <= first {
      return "--method p-darts keeps \(first) operations per edge after its first stage, but --space \(s.space.rawValue) has \(s.space.operationCount): use --space darts or darts-no-none"
    }
    return progressive.validationProblem(layers: s.layers, operations: s.space.operationCount)
  }

  /// `train_search.py` with the README flags (SPEC §4.7): batch 96, 25 epochs per stage of
  /// which 10 train the weights only, SGD cosine to 0, Adam 6e-4, 5 cells in the first stage,
  /// the stages of ``ProgressiveSettings``, the architecture split evaluated in the last 5
  /// epochs of a stage.
  public static func reference(_ s: inout SearchSettings) {
    s.batchSize = 96
    s.epochs = 25
    s.learningRateMin = 0
    s.architectureLearningRate = 6e-4
    s.architectureWarmupEpochs = 10
    s.layers = 5
    s.progressive = ProgressiveSettings()
    s.validationEpochs = 5
  }

  /// Three short stages of 3, 5 and 7 cells (8, 5 and 3 operations per edge), 4 epochs each
  /// with 1 of weights only.
  public static func demo(_ s: inout SearchSettings) {
    s.layers = 3
    s.progressive?.addLayers = [2, 4]
    s.epochs = 4
    s.architectureWarmupEpochs = 1
  }

  /// The stage schedule (validation rejects P-DARTS settings without one).
  private var stages: ProgressiveSettings { settings.progressive ?? ProgressiveSettings() }

  public var stageCount: Int { stages.stageCount }
  public var architectureOrder: BatchSampler.Order { .epochPermutation }
  public var architectureGradientClip: Float? { settings.architectureGradientClip.map(Float.init) ?? 5 }

  public func initialStages(all: SearchNetworkConfiguration) -> SearchRun.ProgressiveState? {
    SearchRun.ProgressiveState(stage: 0, normalOperations: all.normalOperations, reduceOperations: all.reduceOperations, finished: [])
  }

  /// The cells, channels and operations of the running stage, skip dropout when its rate is
  /// positive, drawn from the seed (stage 0) or from `(seed, stage)`.
  public func network(_ base: SearchNetworkConfiguration, stages progressive: SearchRun.ProgressiveState?) -> (configuration: SearchNetworkConfiguration, seed: UInt64) {
    guard let progressive else { return (base, settings.seed) }
    var configuration = base
    let stage = progressive.stage
    configuration.layers = stages.layers(stage: stage, base: settings.layers)
    configuration.channels = stages.channels(stage: stage, base: settings.channels)
    configuration.normalOperations = progressive.normalOperations
    configuration.reduceOperations = progressive.reduceOperations
    configuration.skipDropout = stages.skipDropout[stage] > 0
    guard stage > 0 else { return (configuration, settings.seed) }
    var generator = derivedGenerator(settings.seed, SearchRun.stageStream, UInt64(stage))
    return (configuration, generator.next())
  }

  public func memoryConfigurations(_ base: SearchNetworkConfiguration) -> [SearchNetworkConfiguration] {
    (0..<stageCount).map { stage in
      guard stage > 0 else { return base }
      var configuration = base
      configuration.layers = stages.layers(stage: stage, base: settings.layers)
      configuration.channels = stages.channels(stage: stage, base: settings.channels)
      let cheapest = Array(base.normalOperations[0].sorted { $0.squaredChannelWeights < $1.squaredChannelWeights }.prefix(stages.operationsKept[stage - 1]))
      configuration.normalOperations = configuration.normalOperations.map { _ in cheapest }
      configuration.reduceOperations = configuration.normalOperations
      return configuration
    }
  }

  public func supernetName(stage: Int) -> String { stageCount > 1 ? "stage \(stage + 1)'s supernet" : "the supernet" }
  public func progressLabel(stage: Int) -> String { "stage \(stage + 1)/\(stageCount) " }
  public func eventFields(stage: Int) -> [String: JSONValue] { ["stage": .int(stage)] }

  public func skipDropoutRate(stage: Int, epoch: Int) -> Double? {
    ProgressiveRules.skipDropoutRate(initial: stages.skipDropout[stage], epoch: epoch, epochs: settings.epochs, warmupEpochs: settings.architectureWarmupEpochs)
  }

  public func stagesProblem(_ progressive: SearchRun.ProgressiveState?, position: BatchPosition, topology: CellTopology) -> String? {
    guard let progressive else { return "the checkpoint has no P-DARTS stage" }
    let epochs = settings.epochs
    let stage = progressive.stage
    guard (0..<stageCount).contains(stage) else { return "P-DARTS stage \(stage) is outside 0..<\(stageCount)" }
    let epochStage = position.epoch / epochs
    guard stage == epochStage || (position.epoch % epochs == 0 && stage == epochStage - 1) else {
      return "P-DARTS stage \(stage) does not own the resume position's epoch \(position.epoch)"
    }
    guard progressive.finished.count == stage else { return "P-DARTS stage \(stage) has \(progressive.finished.count) finished stages recorded" }
    let operationCounts = [settings.space.operationCount] + stages.operationsKept
    func operationsProblem(_ operations: [[Primitive]], count: Int, _ cell: String) -> String? {
      guard operations.count == topology.edgeCount,
        operations.allSatisfy({ $0.count == count && Set($0).count == count })
      else { return "the \(cell) cell's operations are not \(count) distinct primitives on each of \(topology.edgeCount) edges" }
      return nil
    }
    for (index, finished) in progressive.finished.enumerated() {
      let count = operationCounts[index]
      if let problem = operationsProblem(finished.normalOperations, count: count, "normal")
        ?? operationsProblem(finished.reduceOperations, count: count, "reduce") {
        return "finished stage \(index): \(problem)"
      }
      guard finished.alphasNormal.count == topology.edgeCount * count, finished.alphasReduce.count == topology.edgeCount * count,
        (finished.alphasNormal + finished.alphasReduce).allSatisfy(\.isFinite)
      else { return "finished stage \(index): its α are not \(topology.edgeCount)×\(count) finite values" }
    }
    return operationsProblem(progressive.normalOperations, count: operationCounts[stage], "normal")
      ?? operationsProblem(progressive.reduceOperations, count: operationCounts[stage], "reduce")
  }

  /// Ends a stage (SPEC §4.2, §4.4): records it, then drops operations by its α.
  public func advance(_ progressive: SearchRun.ProgressiveState?, from network: SearchNetwork) -> SearchRun.ProgressiveState? {
    guard var progressive = Self.recording(progressive, network) else { return nil }
    let count = progressive.normalOperations[0].count - stages.operationsKept[progressive.stage]
    progressive.normalOperations = ProgressiveRules.drop(count, from: progressive.normalOperations, weights: GenotypeDerivation.softmaxRows(network.alphasNormal), lastStage: false)
    progressive.reduceOperations = ProgressiveRules.drop(count, from: progressive.reduceOperations, weights: GenotypeDerivation.softmaxRows(network.alphasReduce), lastStage: false)
    progressive.stage += 1
    return progressive
  }

  /// The end of the search (SPEC §4.5–4.6): one operation per edge, two edges per node, then
  /// the skip-connect cap of the normal cell. Every cap level that changed the cell is logged
  /// and printed; the result is the capped cell.
  public func finish(
    _ network: SearchNetwork, stages progressive: inout SearchRun.ProgressiveState?, journal: RunJournal
  ) throws -> (genotype: Genotype, architectureFields: [String: JSONValue]) {
    progressive = Self.recording(progressive, network)
    let configuration = network.configuration
    let topology = configuration.topology
    let normalProbabilities = ProgressiveRules.finalProbabilities(operations: configuration.normalOperations, weights: GenotypeDerivation.softmaxRows(network.alphasNormal))
    let reduceProbabilities = ProgressiveRules.finalProbabilities(operations: configuration.reduceOperations, weights: GenotypeDerivation.softmaxRows(network.alphasReduce))
    let concat = Array(2..<(2 + topology.steps))
    func genotype(normal: [Genotype.Edge]) -> Genotype {
      let reduce = ProgressiveRules.selectEdges(operations: configuration.reduceOperations, probabilities: reduceProbabilities, topology: topology)
      return Genotype(normal: normal, normalConcat: concat, reduce: ProgressiveRules.cell(reduce, topology: topology), reduceConcat: concat)
    }
    let uncapped = genotype(normal: ProgressiveRules.cell(
      ProgressiveRules.selectEdges(operations: configuration.normalOperations, probabilities: normalProbabilities, topology: topology), topology: topology))
    let levels = ProgressiveRules.capSkips(
      operations: configuration.normalOperations, probabilities: normalProbabilities, topology: topology, limit: stages.maxSkip)
    func skips(_ g: Genotype) -> Int { g.normal.filter { $0.operation == .skipConnect }.count }
    try journal.log(["type": "genotype", "max_skip": .null, "normal_skip_connects": .int(skips(uncapped)), "genotype": .string(uncapped.description)])
    journal.say("genotype without the skip cap (\(skips(uncapped)) skip-connects in the normal cell): \(uncapped)")
    var final = uncapped
    var levelsJSON: [JSONValue] = []
    for level in levels {
      final = genotype(normal: level.normal)
      try journal.log(["type": "genotype", "max_skip": .int(level.maxSkip), "normal_skip_connects": .int(skips(final)), "genotype": .string(final.description)])
      journal.say("genotype with at most \(level.maxSkip) skip-connects: \(final)")
      levelsJSON.append(.object(["max_skip": .int(level.maxSkip), "genotype": .string(final.description)]))
    }
    return (final, ["uncapped_genotype": .string(uncapped.description), "skip_cap_levels": .array(levelsJSON)])
  }

  /// The running stage and every finished one (cells, channels, operations, raw α and softmax).
  public func architectureFields(_ progressive: SearchRun.ProgressiveState?, on backend: any Backend) -> [String: JSONValue] {
    guard let progressive else { return [:] }
    return [
      "stage": .int(progressive.stage),
      "stages": .array(progressive.finished.map { finished in
        func alphas(_ raw: [Float], _ operations: [[Primitive]]) -> JSONValue {
          let columns = operations[0].count
          let softmax = withoutGradients { Tensor(shape: [operations.count, columns], scalars: raw, on: backend).softmax(alongAxis: -1).scalars }
          return .object([
            "shape": .array([.int(operations.count), .int(columns)]), "raw": .array(raw.map { .double(Double($0)) }),
            "softmax": .array(softmax.map { .double(Double($0)) }),
          ])
        }
        return .object([
          "layers": .int(finished.layers), "channels": .int(finished.channels),
          "normal_operations": SearchRun.names(finished.normalOperations), "reduce_operations": SearchRun.names(finished.reduceOperations),
          "alphas_normal": alphas(finished.alphasNormal, finished.normalOperations),
          "alphas_reduce": alphas(finished.alphasReduce, finished.reduceOperations),
        ])
      }),
    ]
  }

  /// `progressive` with the running stage (its network, operations and final α) recorded as
  /// finished, once.
  private static func recording(_ progressive: SearchRun.ProgressiveState?, _ network: SearchNetwork) -> SearchRun.ProgressiveState? {
    guard var progressive, progressive.finished.count == progressive.stage else { return progressive }
    progressive.finished.append(SearchRun.FinishedStage(
      layers: network.configuration.layers, channels: network.configuration.channels,
      normalOperations: progressive.normalOperations, reduceOperations: progressive.reduceOperations,
      alphasNormal: network.alphasNormal.value.scalars, alphasReduce: network.alphasReduce.value.scalars))
    return progressive
  }
}

extension SearchSettings.Method {
  /// P-DARTS (``PDARTSStrategy``).
  public static let pDarts = Self(PDARTSStrategy.self)
}
