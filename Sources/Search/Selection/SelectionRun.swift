import Datasets
import Foundation
import NN
import Runs
import SearchSpace
import TensorCore

/// DARTS-PT's perturbation-based architecture selection (Wang et al., ICLR 2021;
/// SPEC-ROBUST §3) over a finished search, in its own run directory inside the search's
/// (`selection-pt/`: `config.json`, `events.jsonl`, `checkpoint.safetensors`, `genotype.json`,
/// `architecture.json`).
///
/// It starts from the search's final state (weights, BN statistics, α/β, Adam's α state) and
/// tunes for ``ProjectionSchedule/tuningEpochs`` epochs with a new SGD
/// (``SelectionSettings``); α steps continue with the search's architect, and SDARTS'
/// perturbation with ε rising over the tuning epochs. Every forward pass mixes the operations
/// by the projected weights `W` (``ArchitectureProjection``). At a decision epoch, before it
/// tunes, each cell type (normal, then reduction) gets one decision:
/// - operation: an undecided edge drawn at random; each of its operations is removed in turn
///   (`W[e, o] = 0`, no renormalisation) and scored on the whole architecture split in
///   training mode (batch BN statistics, running statistics updated, no gradients); the
///   operation whose removal hurts most is kept (``ProjectionDecisions/operation(count:criterion:score:)``);
/// - topology: a node with more than two inputs drawn at random; its inputs are dropped one by
///   one until two remain, each time the one whose removal leaves the best architecture.
/// The genotype is the DARTS parse of the final `W`.
///
/// Every random choice is keyed by the search's seed and a position (the edge or node by the
/// decision, the batches by the tuning epoch placed after the search's epochs), and the
/// checkpoint holds the tensors, the decisions and the position, so rerunning the selection
/// after it stopped continues bit-identically (checkpoints after every decision epoch's
/// decisions, every epoch and every `--checkpoint-every` steps of the search). One process.
public final class SelectionRun {
  /// The selection's settings (its `config.json`).
  public let settings: SelectionSettings
  /// The search run, at its final state when the selection starts; its network and
  /// optimisers are the ones tuned.
  public let search: SearchRun
  /// The selection's run directory (`selection-pt/` inside the search's).
  public let directory: RunDirectory
  /// When it decides: the tuning epochs and the decision epochs.
  public let schedule: ProjectionSchedule
  private let journal: RunJournal
  private var state: State

  /// What a selection checkpoint stores besides tensors.
  struct State: Codable, EpochCursorStorage {
    var position: BatchPosition
    var completedSteps: Int
    var epochLoss: Double
    var epochCorrect: Int
    var epochSeen: Int
    /// Index of the next event line.
    var nextEvent: Int
    var architectureSteps: [String: Int]
    /// Decision epochs whose decisions have been made.
    var decisionsMade: Int
    var projection: ArchitectureProjection
    var settings: SelectionSettings

    /// One line naming the first field that cannot belong to a selection of `schedule` with
    /// `stepsPerEpoch` steps over `network`, or nil.
    func problem(schedule: ProjectionSchedule, stepsPerEpoch: Int, network: SearchNetwork) -> String? {
      if let problem = cursor.problem(totalEpochs: schedule.tuningEpochs, stepsPerEpoch: stepsPerEpoch) { return problem }
      if nextEvent < 0 { return "next_event is negative (\(nextEvent))" }
      if !(0...(schedule.operationDecisions + schedule.topologyDecisions)).contains(decisionsMade) {
        return "decisions_made \(decisionsMade) is outside 0...\(schedule.operationDecisions + schedule.topologyDecisions)"
      }
      let configuration = network.configuration
      return projection.normal.problem(topology: schedule.topology, ops: configuration.normalOperations[0].count)
        ?? projection.reduce.problem(topology: schedule.topology, ops: configuration.reduceOperations[0].count)
    }
  }

  /// Tuning steps per epoch: the weight split's batches, capped by the selection's
  /// `maxStepsPerEpoch` or else the search's.
  public let stepsPerEpoch: Int

  /// Whether every tuning epoch has run.
  public var isFinished: Bool { state.position.epoch == schedule.tuningEpochs }

  /// The selection of `settings` over the finished `search`, in `search`'s subdirectory
  /// ``SelectionSettings/directoryName``: continued from its checkpoint when it has one (its
  /// `config.json` must hold `settings`), else started afresh.
  /// - Throws: ``SearchRunError`` or ``RunDirectoryError`` naming the file or directory.
  public init(over search: SearchRun, settings: SelectionSettings, output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput) throws {
    if let problem = settings.validationProblem() ?? SelectionSettings.searchProblem(search.settings) { throw SearchRunError(problem) }
    self.settings = settings
    self.search = search
    schedule = settings.schedule(nodes: search.settings.nodes)
    stepsPerEpoch = min(search.trainSampler.batchesPerEpoch, settings.maxStepsPerEpoch ?? search.settings.maxStepsPerEpoch ?? .max)
    let url = search.directory.url.appendingPathComponent(settings.directoryName, isDirectory: true)
    let configURL = url.appendingPathComponent(RunDirectory.JSONFile.config.rawValue)
    let checkpointURL = url.appendingPathComponent("checkpoint.safetensors")
    let resuming = FileManager.default.fileExists(atPath: checkpointURL.path)
    directory = resuming || FileManager.default.fileExists(atPath: configURL.path) ? try RunDirectory.resume(at: url) : try RunDirectory.create(at: url)
    let network = search.network
    search.optimization.weights = SGD(
      learningRate: Float(SelectionSettings.learningRate(epoch: 0, epochs: schedule.tuningEpochs, search: search.settings)),
      momentum: Float(search.settings.momentum), weightDecay: Float(search.settings.weightDecay))
    search.optimization.regularization = nil
    state = State(
      position: BatchPosition(epoch: 0, step: 0), completedSteps: 0, epochLoss: 0, epochCorrect: 0, epochSeen: 0, nextEvent: 0,
      architectureSteps: search.optimization.architecture.steps, decisionsMade: 0,
      projection: ArchitectureProjection(edges: network.configuration.topology.edgeCount), settings: settings)
    if resuming {
      let recorded = try directory.read(SelectionSettings.self, from: .config)
      guard recorded == settings else {
        throw SearchRunError("\(configURL.path): the selection was started with other settings (\(recorded.summary)) than these (\(settings.summary)); rerun it with those or remove \(url.path)")
      }
      let checkpoint = try Checkpoint<State>.load(from: checkpointURL, on: search.backend)
      guard checkpoint.state.settings == settings else {
        throw SearchRunError("\(checkpointURL.path): the checkpoint was written with other settings than \(configURL.path)")
      }
      if let problem = checkpoint.state.problem(schedule: schedule, stepsPerEpoch: stepsPerEpoch, network: network) {
        throw SearchRunError("\(checkpointURL.path): \(problem)")
      }
      try search.restoreTensors(checkpoint.tensors, architectureSteps: checkpoint.state.architectureSteps, from: directory)
      state = checkpoint.state
      journal = try RunJournal(directory: directory, resumingAt: state.nextEvent, output: output)
    } else {
      try directory.write(settings, to: .config)
      journal = try RunJournal(directory: directory, resumingAt: 0, output: output)
    }
    search.optimization.projection = state.projection
  }

  // MARK: The loop

  /// Runs the remaining tuning epochs and their decisions; writes `genotype.json` and
  /// `architecture.json` at the end (again, unchanged, for a finished selection).
  /// - Returns: the genotype of the final projected weights.
  @discardableResult
  public func run() throws -> Genotype {
    let tuningEpochs = schedule.tuningEpochs
    // The batches of tuning epoch e are those of schedule position (search epochs + e).
    let offset = search.settings.stageCount * search.settings.epochs
    let steps = stepsPerEpoch
    if state.position.epoch < tuningEpochs {
      let start = BatchPosition(epoch: offset + state.position.epoch, step: state.position.step)
      let end = offset + tuningEpochs
      let trainLoader = BatchLoader(sampler: search.trainSampler, on: search.backend, start: start, stepsPerEpoch: steps, endEpoch: end)
      let architectureLoader = BatchLoader(sampler: search.architectureSampler, on: search.backend, start: start, stepsPerEpoch: steps, endEpoch: end)
      defer {
        trainLoader.cancel()
        architectureLoader.cancel()
      }
      let runner = EpochRunner(journal: journal, stepsPerEpoch: steps, checkpointEvery: search.settings.checkpointEvery)
      for epoch in state.position.epoch..<tuningEpochs {
        if state.position.step == 0, let decision = schedule.decision(atEpoch: epoch), state.decisionsMade == schedule.ordinal(decision) {
          for kind in CellKind.allCases { try decide(decision, for: kind, epoch: epoch) }
          state.decisionsMade += 1
          try saveCheckpoint()
        }
        try tune(epoch: epoch, position: offset + epoch, runner: runner, loaders: (trainLoader, architectureLoader))
      }
    }
    let weights = projectedWeights()
    let genotype = GenotypeDerivation.genotype(of: search.network, operationWeights: weights)
    try directory.write(genotype, to: .genotype)
    try directory.write(architectureJSON(weights), to: .architecture)
    return genotype
  }

  /// One tuning epoch: the search's iteration (α step, then a weight step by the tuning SGD)
  /// at the epoch's learning rate, under the projected weights.
  private func tune(epoch: Int, position: Int, runner: EpochRunner, loaders: (train: BatchLoader, architecture: BatchLoader)) throws {
    let lr = SelectionSettings.learningRate(epoch: epoch, epochs: schedule.tuningEpochs, search: search.settings)
    search.optimization.weights.learningRate = Float(lr)
    var fields: [String: JSONValue] = ["lr": .double(lr), "selection": .string(settings.method.rawValue)]
    if let perturbation = search.settings.perturbation {
      let epsilon = perturbation.epsilon(epoch: epoch, epochs: schedule.tuningEpochs)
      search.optimization.perturbation?.epsilon = Float(epsilon)
      fields.merge(perturbation.eventFields(epsilon: epsilon)) { a, _ in a }
    }
    let random = search.network.randomLayers
    var genotype = GenotypeDerivation.genotype(of: search.network, operationWeights: projectedWeights())
    var cursor = state.cursor
    try runner.run(
      epoch: epoch, label: "tune epoch \(epoch + 1)/\(schedule.tuningEpochs)", cursor: &cursor, fields: fields,
      startFields: ["genotype": .string(genotype.description)],
      step: { index in
        try search.step(position: position, epoch: epoch, index: index, loaders: loaders, random: random, updateArchitecture: true)
      },
      evaluate: {
        let weights = projectedWeights()
        genotype = GenotypeDerivation.genotype(of: search.network, operationWeights: weights)
        return EpochSummary(fields: ["genotype": .string(genotype.description), "architecture": architectureJSON(weights)])
      },
      checkpoint: { cursor in
        state.cursor = cursor
        try saveCheckpoint()
      })
    state.cursor = cursor
    journal.say("genotype: \(genotype)")
    try saveCheckpoint()
  }

  // MARK: Decisions

  /// The current `W` of both cell types, without gradient.
  private func projectedWeights() -> OperationWeights {
    withoutGradients { state.projection.weights(search.network.operationWeights) }
  }

  /// Makes `decision` for the cell type `kind` at `epoch`, logs it and applies it to the
  /// projection.
  private func decide(_ decision: ProjectionSchedule.Decision, for kind: CellKind, epoch: Int) throws {
    let ordinal = schedule.ordinal(decision)
    let cellIndex = UInt64(CellKind.allCases.firstIndex(of: kind)!)
    var generator = derivedGenerator(search.settings.seed, SearchRun.selectionStream, UInt64(ordinal), cellIndex)
    let weights = projectedWeights()
    let current = (kind == .normal ? weights.normal : weights.reduce)
    let (shape, values) = (current.shape, current.scalars)
    let ops = shape[1]
    var evaluations: UInt64 = 0
    // The score of W with the given entries of this cell type set to 0. Random layers (S4's
    // noise) are reseeded per evaluation, keyed by the decision.
    func score(_ entries: [Int]) throws -> ProjectionScore {
      var changed = values
      for i in entries { changed[i] = 0 }
      let tensor = Tensor(shape: shape, scalars: changed, on: current.backend)
      let mixing = kind == .normal ? OperationWeights(normal: tensor, reduce: weights.reduce) : OperationWeights(normal: weights.normal, reduce: tensor)
      reseed(search.network.randomLayers, from: derivedGenerator(search.settings.seed, SearchRun.selectionStream, UInt64(ordinal), cellIndex, evaluations))
      evaluations += 1
      let result = try search.directory.stoppingOnNonFinite(at: "selection epoch \(epoch) decision") {
        try search.evaluateArchitectureSplit(training: true, operationWeights: mixing)
      }
      return ProjectionScore(loss: result.loss, accuracy: result.accuracy)
    }
    let configuration = search.network.configuration
    let operations = kind == .normal ? configuration.normalOperations : configuration.reduceOperations
    var cell = state.projection[kind]
    let record = try ProjectionDecisions.decide(
      decision, cell: &cell, topology: schedule.topology, ops: ops, criterion: settings.criterion, generator: &generator, score: score)
    var event: [String: JSONValue] = ["type": "decision", "epoch": .int(epoch), "cell": .string(kind.rawValue), "criterion": .string(settings.criterion.rawValue)]
    switch record {
    case .operation(let edge, let chosen, let scores):
      event.merge([
        "kind": "operation", "edge": .int(edge), "operation": .string(operations[edge][chosen].name),
        "scores": .array(scores.enumerated().map { o, s in .object(["operation": .string(operations[edge][o].name), "removed": s.json]) }),
      ]) { a, _ in a }
      journal.say("decision: \(kind.rawValue) edge \(edge) → \(operations[edge][chosen].name) (" + String(format: "accuracy without it %.4f", scores[chosen].accuracy) + ")")
    case .topology(let node, let dropped, let rounds):
      event.merge([
        "kind": "topology", "node": .int(node + 2), "dropped_edges": .array(dropped.map { .int($0) }),
        "rounds": .array(rounds.map { round in .array(round.map { .object(["edge": .int($0.edge), "removed": $0.score.json]) }) }),
      ]) { a, _ in a }
      let kept = schedule.topology.edges(ofStep: node).filter { !dropped.contains($0) }
      journal.say("decision: \(kind.rawValue) node \(node + 2) keeps edges \(kept.map(String.init).joined(separator: ", "))")
    }
    state.projection[kind] = cell
    search.optimization.projection = state.projection
    try journal.log(event)
  }

  // MARK: Artifacts and checkpoints

  /// The search's `architecture.json` content with the projected weights `W` and the
  /// decisions: each edge's chosen operation (null while undecided) and the discarded edges.
  private func architectureJSON(_ weights: OperationWeights) -> JSONValue {
    guard case .object(var object) = search.architectureJSON() else { return search.architectureJSON() }
    let configuration = search.network.configuration
    for kind in CellKind.allCases {
      let (w, operations) = kind == .normal ? (weights.normal, configuration.normalOperations) : (weights.reduce, configuration.reduceOperations)
      let cell = state.projection[kind]
      object["projected_\(kind.rawValue)"] = .object([
        "shape": .array(w.shape.map { .int($0) }), "values": .array(w.scalars.map { .double(Double($0)) }),
        "operations": .array(cell.operations.enumerated().map { edge, chosen in chosen.map { .string(operations[edge][$0].name) } ?? .null }),
        "discarded_edges": .array(cell.discarded.map { .int($0) }),
      ])
    }
    return .object(object)
  }

  private func saveCheckpoint() throws {
    state.architectureSteps = search.optimization.architecture.steps
    state.nextEvent = journal.nextEvent
    try search.saveCheckpoint(state, at: state.position, in: directory)
  }
}

extension SelectionSettings {
  /// The settings in a few words, for messages.
  var summary: String {
    "--method \(method.rawValue) --decision-interval \(decisionInterval) --criterion \(criterion.rawValue)"
      + (maxStepsPerEpoch.map { " --max-steps-per-epoch \($0)" } ?? "")
  }
}
