import DataParallel
import Datasets
import Foundation
import NN
import Runs
import SearchSpace
import TensorCore

/// A search run: the supernet, its optimisers and data, driven epoch by epoch with events,
/// checkpoints and exact resume (SPEC §2.1–2.3).
///
/// Every random choice is a function of the seed and a position (network initialisation of
/// the seed; each batch of `(seed, stream, epoch, step)`), and the checkpoint holds weights,
/// buffers, α/β, both optimisers' state and the position, so a run resumed from any
/// checkpoint continues bit-identically to an uninterrupted run with the same thread count.
///
/// What differs between methods is asked of the settings' ``SearchStrategy``: the loop runs
/// once per stage of the strategy (positions count epochs across stages: stage `s` owns epochs
/// `s·E ..< (s+1)·E`), and between stages the strategy carries the operations over while the
/// network, α and optimisers are built afresh. Skip dropout masks are seeded by
/// `(seed, epoch, step)` (and the pass and micro-batch when batches are cut into
/// micro-batches), so they too survive a resume.
///
/// Data parallelism (`mpirun -np N darts search …`): every process holds a full replica; the
/// leader's initial (or resumed) state is broadcast to the others; each process loads only its
/// share of every batch (``BatchShard``) and every gradient is averaged over the whole batch
/// (``BatchParallelism``), so the replicas stay bit-identical, which a checksum agreed at every
/// checkpoint verifies. Only the leader writes the run directory and the console; a failure on
/// any process stops every process with that process's message.
public final class SearchRun {
  public let settings: SearchSettings
  public let directory: RunDirectory
  /// Where the run's tensors live and its kernels run (`--backend`).
  public let backend: any Backend
  /// The processes of the run's job and how each batch is shared among them (`mpirun`,
  /// `--micro-batches`).
  public let parallelism: BatchParallelism
  var group: ProcessGroup { parallelism.group }
  /// What the method decides (stages, schedules, the final genotype).
  let strategy: any SearchStrategy
  public private(set) var network: SearchNetwork
  public internal(set) var optimization: SearchOptimization
  /// Image channels and classes of the dataset (for rebuilding the network at a stage).
  private let inputChannels: Int
  private let classes: Int
  let trainSampler: BatchSampler
  let architectureSampler: BatchSampler
  let evaluationSampler: BatchSampler
  let journal: RunJournal
  var state: CheckpointState
  private let output: (String) -> Void

  /// What a checkpoint stores besides tensors.
  struct CheckpointState: Codable, EpochCursorStorage {
    /// The next step to run.
    var position: BatchPosition
    var completedSteps: Int
    /// Index of the next event line.
    var nextEvent: Int
    var architectureSteps: [String: Int]
    var epochLoss: Double
    var epochCorrect: Int
    var epochSeen: Int
    var settings: SearchSettings
    /// P-DARTS: the stage and its operations (nil for single-stage methods).
    var progressive: ProgressiveState?
    /// DARTS-ES / DARTS-ADA: the eigenvalue history and the reaction's state (nil without
    /// `--early-stop` or `--adaptive-regularization`).
    var curvature: CurvatureState?

    /// One line naming the first field that cannot belong to a run of `settings` with
    /// `stepsPerEpoch` steps and cells of `topology`, or nil: checked on load, before any of
    /// it is used.
    func problem(stepsPerEpoch: Int, topology: CellTopology, strategy: any SearchStrategy) -> String? {
      if let problem = cursor.problem(totalEpochs: strategy.stageCount * settings.epochs, stepsPerEpoch: stepsPerEpoch) { return problem }
      if nextEvent < 0 { return "next_event is negative (\(nextEvent))" }
      if let (name, steps) = architectureSteps.first(where: { $0.value < 0 }) { return "Adam's step count of \(name) is negative (\(steps))" }
      if let problem = CurvatureState.problem(curvature, settings: settings) { return problem }
      return strategy.stagesProblem(progressive, position: position, topology: topology)
    }
  }

  /// Where a P-DARTS run is among its stages.
  public struct ProgressiveState: Codable, Sendable {
    /// The running stage (0-based).
    public var stage: Int
    /// The operations of each edge in this stage (the reference's switches that are on).
    public var normalOperations: [[Primitive]]
    public var reduceOperations: [[Primitive]]
    /// The stages finished so far.
    public var finished: [FinishedStage]
  }

  /// A finished P-DARTS stage: its network, operations and final α (raw, `[edges, ops]`).
  public struct FinishedStage: Codable, Sendable {
    public var layers: Int
    public var channels: Int
    public var normalOperations: [[Primitive]]
    public var reduceOperations: [[Primitive]]
    public var alphasNormal: [Float]
    public var alphasReduce: [Float]
  }

  /// The running stage (0 except for P-DARTS).
  public var stage: Int { state.progressive?.stage ?? 0 }

  /// Steps per epoch (capped by `maxStepsPerEpoch`).
  public var stepsPerEpoch: Int { min(trainSampler.batchesPerEpoch, settings.maxStepsPerEpoch ?? .max) }

  /// The data of a run: the weight / architecture / evaluation samplers of the training set.
  struct SearchData {
    var train: BatchSampler
    var architecture: BatchSampler
    var evaluation: BatchSampler

    /// Loads and splits the training set: by index (SPEC §2.1), or per class for image folders
    /// (SPEC §5.5); errors name the file or directory.
    init(_ settings: SearchSettings, shard: BatchShard) throws {
      if let problem = settings.validationProblem() { throw SearchRunError(problem) }
      let directory = settings.dataDirectory.map { URL(fileURLWithPath: $0) }
      let weights, architecture, evaluation: any LabelledImages
      let (weightIndices, architectureIndices): (Range<Int>, Range<Int>)
      if settings.dataset == .imageFolder, let directory {
        var transform = ImageTransform.training(size: settings.imageSize)
        transform.flipProbability = settings.flip ? 0.5 : 0
        let folder = try ImageFolder.load(.train, from: directory, transform: transform)
        let split = ClassSplit(labels: folder.labels, classCount: folder.classCount, weightFraction: settings.weightFraction, architectureFraction: settings.architectureFraction, seed: settings.seed)
        guard !split.architecture.isEmpty else {
          throw SearchRunError("\(directory.path): no class has the 2 images a weight/architecture split needs")
        }
        let architectureFolder = folder.subset(split.architecture)
        (weights, architecture) = (folder.subset(split.weights), architectureFolder)
        evaluation = architectureFolder.with(.evaluation(size: settings.imageSize))
        (weightIndices, architectureIndices) = (0..<split.weights.count, 0..<split.architecture.count)
      } else {
        let dataset = try settings.dataset.load(.train, from: directory)
        let split = SearchSplit(count: dataset.count, trainPortion: settings.trainPortion, limit: settings.limit)
        guard !split.weights.isEmpty, !split.architecture.isEmpty else {
          throw SearchRunError("the training set (\(dataset.count) images) is too small for a weight/architecture split")
        }
        let augmented = AugmentedDataset(dataset, augmentation: Augmentation(padding: settings.cropPadding, flipProbability: settings.flip ? 0.5 : 0))
        (weights, architecture, evaluation) = (augmented, augmented, AugmentedDataset(dataset, augmentation: .evaluation))
        (weightIndices, architectureIndices) = (split.weights, split.architecture)
      }
      if let problem = Self.memoryProblem(settings, imageShape: weights.imageShape, classes: weights.classCount) { throw SearchRunError(problem) }
      train = BatchSampler(images: weights, indices: weightIndices, batchSize: settings.batchSize, order: .epochPermutation, seed: settings.seed, stream: 0, shard: shard)
      // The strategy's order: DARTS draws each α batch afresh; P-DARTS reads the α half as an
      // iterator, restarted (reshuffled) when exhausted: one permutation per epoch for equal
      // halves, more when the α half is the smaller (SPEC §2.1, `BatchSampler.sourcePosition`).
      self.architecture = BatchSampler(images: architecture, indices: architectureIndices, batchSize: settings.batchSize, order: settings.strategy.architectureOrder, seed: settings.seed, stream: 1, shard: shard)
      self.evaluation = BatchSampler(images: evaluation, indices: architectureIndices, batchSize: settings.batchSize, order: .sequential, seed: settings.seed, stream: 2)
    }

    /// Why the supernet of some stage cannot fit this machine at the settings' batch size
    /// (``MemoryEstimate``; as the strategy counts each stage), or nil.
    static func memoryProblem(_ settings: SearchSettings, imageShape: [Int], classes: Int) -> String? {
      let strategy = settings.strategy
      let base = settings.networkConfiguration(inputChannels: imageShape[0], classes: classes)
      for (stage, configuration) in strategy.memoryConfigurations(base).enumerated() {
        let what = "\(strategy.supernetName(stage: stage)) with a batch of \(settings.batchSize)"
        if let problem = configuration.memoryEstimate(inputSize: imageShape[1], batch: settings.batchSize).problem(what) {
          return problem + " (lower --batch-size, --init-channels or --layers)"
        }
      }
      return nil
    }
  }

  private init(
    settings: SearchSettings, data: SearchData, directory: RunDirectory, resuming: Bool, backend kind: BackendKind,
    parallelism: BatchParallelism, journaling: Bool = true, output: @escaping (String) -> Void
  ) throws {
    self.settings = settings
    self.directory = directory
    self.output = output
    self.parallelism = parallelism
    backend = kind.make(threads: settings.threads)
    strategy = settings.strategy
    trainSampler = data.train
    architectureSampler = data.architecture
    evaluationSampler = data.evaluation
    inputChannels = data.train.images.imageShape[0]
    classes = data.train.images.classCount

    let progressive = strategy.initialStages(all: settings.networkConfiguration(inputChannels: inputChannels, classes: classes))
    state = CheckpointState(
      position: BatchPosition(epoch: 0, step: 0), completedSteps: 0, nextEvent: 0, architectureSteps: [:], epochLoss: 0, epochCorrect: 0,
      epochSeen: 0, settings: settings, progressive: progressive, curvature: CurvatureState(settings))
    let (group, backend, strategy) = (parallelism.group, backend, strategy)
    // The leader reads and checks the checkpoint; the others receive it from the leader.
    var checkpoint = try group.together { () -> Checkpoint<CheckpointState>? in
      guard resuming, group.isLeader else { return nil }
      let loaded = try Checkpoint<CheckpointState>.load(from: directory.checkpointURL, on: backend)
      guard loaded.state.settings == settings else {
        throw SearchRunError("\(directory.checkpointURL.path): the checkpoint was written with other settings than \(directory.url(of: .config).path)")
      }
      // The whole state is checked before any of it shapes the network.
      let steps = min(data.train.batchesPerEpoch, settings.maxStepsPerEpoch ?? .max)
      if let problem = loaded.state.problem(stepsPerEpoch: steps, topology: CellTopology(steps: settings.nodes), strategy: strategy) {
        throw SearchRunError("\(directory.checkpointURL.path): \(problem)")
      }
      return loaded
    }
    if resuming { checkpoint = try Checkpoint.replicated(checkpoint, in: group, naming: directory.checkpointURL.path, on: backend) }
    if let checkpoint { state.progressive = checkpoint.state.progressive }
    network = Self.makeNetwork(settings, strategy, inputChannels: inputChannels, classes: classes, progressive: state.progressive, backend: backend)
    optimization = Self.makeOptimization(settings, strategy)

    if let checkpoint {
      journal = try group.together {
        group.isLeader && journaling
          ? try RunJournal(directory: directory, resumingAt: checkpoint.state.nextEvent, output: output) : RunJournal(silentFrom: checkpoint.state.nextEvent)
      }
      try restore(checkpoint)
    } else {
      journal = try group.together {
        guard group.isLeader else { return RunJournal(silentFrom: 0) }
        try directory.write(settings, to: .config)
        return try RunJournal(directory: directory, resumingAt: 0, output: output)  // a restarted run's old events go
      }
      // Initial weights and α: the leader's, on every process.
      if group.isDistributed, let initial = try Checkpoint.replicated(Checkpoint(tensors: checkpointTensors(), state: state), in: group, naming: "the initial state", on: backend) {
        try restore(initial)
      }
    }
  }

  /// Starts a new run in a new (or empty) directory, computing on a backend of `backend`'s
  /// kind, as process `group.rank` of a job of `group.size` (the leader creates the
  /// directory; the others write nothing). Unless the settings say how many micro-batches a
  /// batch is cut into, it is cut into one per process (and that number is recorded).
  public static func start(
    _ settings: SearchSettings, in url: URL, backend: BackendKind = .cpu, group: ProcessGroup = .single(),
    output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput
  ) throws -> SearchRun {
    let parallelism = try group.together { try BatchParallelism.shared(batchSize: settings.batchSize, microBatches: settings.microBatches, group: group) }
    var settings = settings
    settings.microBatches = parallelism.shard.chunkCount
    let data = try group.together { try SearchData(settings, shard: parallelism.shard) }  // before the directory exists: bad data leaves nothing behind
    let directory = try group.together { group.isLeader ? try RunDirectory.create(at: url) : RunDirectory.unopened(at: url) }
    return try SearchRun(settings: settings, data: data, directory: directory, resuming: false, backend: backend, parallelism: parallelism, output: output)
  }

  /// Re-opens the run in `url` at its last checkpoint, with the settings in its `config.json`.
  /// A run that died before its first checkpoint starts again from its `config.json`. The
  /// backend is not part of a run's settings: a run may resume on another one. In a job of
  /// several processes the leader reads the directory and sends the settings and checkpoint
  /// to the others; any number of processes that divides the run's micro-batches may resume
  /// it, exactly.
  public static func resume(
    _ url: URL, backend: BackendKind = .cpu, group: ProcessGroup = .single(),
    output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput
  ) throws -> SearchRun {
    try reopen(url, backend: backend, group: group, forSelection: false, output: output)
  }

  /// Opens the finished search run in `url` at its final checkpoint (weights, BN statistics,
  /// α/β, both optimisers' state), in one process, without writing to it: the start of an
  /// architecture selection over it (``SelectionRun``).
  /// - Throws: ``SearchRunError`` naming `url` if it is not a search run, is a P-DARTS run,
  ///   has no checkpoint or has not finished its epochs.
  public static func finished(_ url: URL, backend: BackendKind = .cpu) throws -> SearchRun {
    let run = try reopen(url, backend: backend, group: .single(), forSelection: true) { _ in }
    let total = run.strategy.stageCount * run.settings.epochs
    guard run.state.position.epoch == total else {
      throw SearchRunError(
        "\(run.directory.url.path): the search has not finished (its checkpoint is at epoch \(run.state.position.epoch) step \(run.state.position.step) of \(total) epochs); finish it with darts search --resume \(run.directory.url.path) first")
    }
    return run
  }

  /// Re-opens a run at its last checkpoint (``resume(_:backend:group:output:)``), or, for a
  /// selection, a run that must have a checkpoint and is opened with a silent journal.
  private static func reopen(
    _ url: URL, backend: BackendKind, group: ProcessGroup, forSelection: Bool, output: @escaping (String) -> Void
  ) throws -> SearchRun {
    let run = try ResumedRun(opening: url, in: group, output: output) { directory in
      let keys = directory.configKeys
      if keys.contains("genotype") && !keys.contains("method") {
        throw SearchRunError("\(directory.url.path) is a training run, not a search run: use darts train --resume")
      }
      let settings = try directory.read(SearchSettings.self, from: .config)
      if let problem = settings.validationProblem() { throw SearchRunError("\(directory.url(of: .config).path): \(problem)") }
      return settings
    }
    let settings = run.settings
    if forSelection {
      if let problem = SelectionSettings.searchProblem(settings) { throw SearchRunError("\(run.directory.url.path): \(problem)") }
      guard run.hasCheckpoint else {
        throw SearchRunError("\(run.directory.url.path) has no checkpoint: the search stopped before its first one; finish it with darts search --resume \(run.directory.url.path) first")
      }
    }
    let parallelism = try group.together { try BatchParallelism.resumed(batchSize: settings.batchSize, recordedMicroBatches: settings.microBatches, group: group) }
    let data = try group.together { try SearchData(settings, shard: parallelism.shard) }
    return try SearchRun(
      settings: settings, data: data, directory: run.directory, resuming: run.hasCheckpoint, backend: backend, parallelism: parallelism,
      journaling: !forSelection, output: output)
  }

  /// The supernet of the running stage (as the strategy builds it), its weights and α
  /// initialised from the strategy's seed for the stage.
  private static func makeNetwork(
    _ settings: SearchSettings, _ strategy: any SearchStrategy, inputChannels: Int, classes: Int, progressive: ProgressiveState?, backend: any Backend
  ) -> SearchNetwork {
    let (configuration, seed) = strategy.network(settings.networkConfiguration(inputChannels: inputChannels, classes: classes), stages: progressive)
    var factory = ParameterFactory(backend: backend, seed: seed)
    return SearchNetwork(configuration, using: &factory)
  }

  /// Fresh optimisers (every run, and every stage).
  private static func makeOptimization(_ settings: SearchSettings, _ strategy: any SearchStrategy) -> SearchOptimization {
    SearchOptimization(
      weights: SGD(learningRate: Float(settings.learningRate), momentum: Float(settings.momentum), weightDecay: Float(settings.weightDecay)),
      architecture: Adam(learningRate: settings.architectureLearningRate, beta1: 0.5, beta2: 0.999, weightDecay: settings.architectureWeightDecay),
      architect: Architect(order: settings.order == 2 ? .second : .first),
      weightGradientClip: Float(settings.gradientClip),
      architectureGradientClip: strategy.architectureGradientClip,
      regularization: settings.betaRegularization.map { ArchitectureRegularization($0) },
      perturbation: settings.perturbation.map { WeightStepPerturbation($0) })
  }

  /// Random streams of a run besides the samplers' 0–2.
  static let stageStream: UInt64 = 3
  static let randomLayerStream: UInt64 = 4
  private static let perturbationStream: UInt64 = 5
  /// The random choices of a selection's decisions (``SelectionRun``).
  static let selectionStream: UInt64 = 6
  /// The start vectors of the Hessian's power iterations.
  static let hessianStream: UInt64 = 7

  /// The skip-connect dropout layers of the network.
  private var skipDropouts: [Dropout] { network.modules().compactMap { $0 as? Dropout } }

  // MARK: The loop

  /// Runs the remaining epochs (of every remaining stage); writes `genotype.json` and
  /// `architecture.json` at the end.
  /// - Returns: the strategy's final genotype (P-DARTS: the skip-capped cell of SPEC §4.6).
  @discardableResult
  public func run() throws -> Genotype {
    stages: while true {
      switch try runStage() {
      case .rolledBack: continue
      case .stopped: break stages
      case .finished:
        guard stage + 1 < strategy.stageCount else { break stages }
        try advanceStage()
      }
    }
    let (genotype, fields) = try state.curvature?.stop.map { ($0.genotype, $0.architectureFields) }
      ?? strategy.finish(network, stages: &state.progressive, journal: journal)
    guard case .object(let architecture) = architectureJSON() else { return genotype }
    try group.together {
      guard group.isLeader else { return }
      try directory.write(genotype, to: .genotype)
      try directory.write(JSONValue.object(architecture.merging(fields) { _, new in new }), to: .architecture)
    }
    return genotype
  }

  /// How a call of ``runStage()`` ended.
  enum StageEnd {
    /// Every epoch of the stage ran.
    case finished
    /// DARTS-ES stopped the search (now or in an earlier life of the run).
    case stopped
    /// DARTS-ADA rolled the run back to an earlier epoch, to be run again from there.
    case rolledBack
  }

  /// The remaining epochs of the running stage (the whole run for single-stage methods).
  private func runStage() throws -> StageEnd {
    let steps = stepsPerEpoch
    let start = state.position
    let firstEpoch = stage * settings.epochs  // positions count epochs across stages
    let endEpoch = firstEpoch + settings.epochs
    guard state.curvature?.stop == nil else { return .stopped }
    guard start.epoch < endEpoch else { return .finished }
    let trainLoader = BatchLoader(sampler: trainSampler, on: backend, start: start, stepsPerEpoch: steps, endEpoch: endEpoch)
    let architectureLoader = BatchLoader(sampler: architectureSampler, on: backend, start: start, stepsPerEpoch: steps, endEpoch: endEpoch)
    defer {
      trainLoader.cancel()
      architectureLoader.cancel()
    }
    let runner = EpochRunner(journal: journal, stepsPerEpoch: steps, checkpointEvery: settings.checkpointEvery)
    let stageFields = strategy.eventFields(stage: stage)
    let stageLabel = strategy.progressLabel(stage: stage)
    for position in start.epoch..<endEpoch {
      let epoch = position - firstEpoch
      let lr = settings.learningRate(epoch: epoch)
      optimization.weights.learningRate = Float(lr)
      let updateArchitecture = strategy.updatesArchitecture(epoch: epoch)
      optimization.regularization?.epoch = epoch
      let epsilon = settings.perturbation?.epsilon(epoch: epoch, epochs: settings.epochs)
      if let epsilon { optimization.perturbation?.epsilon = Float(epsilon) }
      let auxiliaryBeta = settings.auxiliarySkip?.beta(epoch: epoch, epochs: settings.epochs)
      if let auxiliaryBeta { network.auxiliarySkipBeta = Float(auxiliaryBeta) }
      let dropout = skipDropouts
      if let rate = strategy.skipDropoutRate(stage: stage, epoch: epoch) {
        for layer in dropout { layer.probability = Float(rate) }
      }
      let random = network.randomLayers  // skip dropout, S4's noise
      var genotype = GenotypeDerivation.genotype(of: network)
      var startFields: [String: JSONValue] = ["genotype": .string(genotype.description)]
      if let rate = dropout.first?.probability { startFields["skip_dropout"] = .double(Double(rate)) }
      var epochFields = stageFields.merging(["lr": .double(lr)]) { a, _ in a }
      epochFields.merge(optimization.regularization?.penalty.eventFields(epoch: epoch) ?? [:]) { a, _ in a }
      if let epsilon { epochFields.merge(settings.perturbation?.eventFields(epsilon: epsilon) ?? [:]) { a, _ in a } }
      if let auxiliaryBeta { epochFields.merge(settings.auxiliarySkip?.eventFields(beta: auxiliaryBeta) ?? [:]) { a, _ in a } }
      var cursor = state.cursor
      var trigger: (epoch: Int, genotype: Genotype)?
      try runner.run(
        epoch: epoch, label: "\(stageLabel)epoch \(epoch + 1)/\(settings.epochs)", cursor: &cursor,
        fields: epochFields, startFields: startFields,
        step: { index in
          try step(position: position, epoch: epoch, index: index, loaders: (trainLoader, architectureLoader), random: random, updateArchitecture: updateArchitecture)
        },
        evaluate: {
          genotype = GenotypeDerivation.genotype(of: network)
          let collapse = CollapseDiagnostics(network, genotype: genotype)
          var summary = EpochSummary(fields: ["genotype": .string(genotype.description), "architecture": architectureJSON()], text: collapse.text)
          summary.fields.merge(collapse.fields) { a, _ in a }
          if strategy.validates(epoch: epoch) {
            // The evaluation's noise (S4) keyed by the epoch, past every step's key.
            reseed(random, from: derivedGenerator(settings.seed, Self.randomLayerStream, UInt64(position), UInt64.max))
            let validation = try directory.stoppingOnNonFinite(at: "epoch \(epoch) evaluation") { try evaluateArchitectureSplit() }
            summary.fields["valid_loss"] = .double(validation.loss)
            summary.fields["valid_accuracy"] = .double(validation.accuracy)
            summary.text += String(format: "  valid loss %.4f acc %.4f", validation.loss, validation.accuracy)
          }
          if let monitor = settings.hessian, monitor.measures(epoch: epoch, epochs: settings.epochs) {
            trigger = try monitorCurvature(monitor, position: position, epoch: epoch, stepsPerEpoch: steps, genotype: genotype, summary: &summary)
          }
          return summary
        },
        checkpoint: { cursor in
          state.cursor = cursor
          try saveCheckpoint()
        })
      state.cursor = cursor
      journal.say("genotype: \(genotype)")
      if let trigger, let end = try react(to: trigger, at: epoch) { return end }
      try saveCheckpoint(snapshot: snapshotEpoch(afterMonitoring: epoch))
    }
    return .finished
  }

  /// Step `index` of the epoch at schedule position `position` (`epoch` within its stage):
  /// the next batches of `loaders`, one iteration of ``optimization``, a check that every
  /// tensor is finite. The random layers' masks and noise, and the perturbation's, are keyed
  /// by the position only (and the pass and micro-batch of a batch cut into several): a
  /// resumed run, and every process, draws the same ones.
  func step(
    position: Int, epoch: Int, index: Int, loaders: (train: BatchLoader, architecture: BatchLoader), random: [any RandomLayer],
    updateArchitecture: Bool
  ) throws -> StepReport {
    let chunked = parallelism.shard.chunkCount > 1
    if !random.isEmpty && !chunked { reseed(random, from: derivedGenerator(settings.seed, Self.randomLayerStream, UInt64(position), UInt64(index))) }
    let (train, valid) = try group.together {
      guard let train = loaders.train.next(), let valid = loaders.architecture.next() else {
        if let failure = loaders.train.failure ?? loaders.architecture.failure { throw SearchRunError("\(failure)") }
        throw SearchRunError("the batch loader stopped early at epoch \(epoch) step \(index)")
      }
      return (train, valid)
    }
    let result = try directory.stoppingOnNonFinite(at: "epoch \(epoch) step \(index)") {
      let result = try optimization.step(
        network: network, train: LabelledBatch(images: train.images, labels: train.labels, globalCount: train.globalCount),
        valid: LabelledBatch(images: valid.images, labels: valid.labels, globalCount: valid.globalCount),
        updateArchitecture: updateArchitecture, parallelism: parallelism,
        prepareChunk: { pass, chunk in
          guard chunked, !random.isEmpty else { return }
          reseed(random, from: derivedGenerator(settings.seed, Self.randomLayerStream, UInt64(position), UInt64(index), UInt64(pass), UInt64(chunk)))
        },
        perturbationGenerator: derivedGenerator(settings.seed, Self.perturbationStream, UInt64(position), UInt64(index)))
      try NonFiniteError.check(checkpointTensors(), after: "the step")
      return result
    }
    var fields: [String: JSONValue] = [:]
    if let a = result.architectureLoss { fields["architecture_loss"] = .double(Double(a)) }
    if let kept = result.attackKept { fields["attack_kept"] = .bool(kept) }
    return StepReport(loss: Double(result.loss), correct: result.correct, count: train.globalCount, fields: fields)
  }

  // MARK: Stages

  /// Ends the running stage: the strategy carries its operations over, then the next stage's
  /// network, α and optimisers are built afresh and checkpointed.
  private func advanceStage() throws {
    state.progressive = strategy.advance(state.progressive, from: network)
    network = Self.makeNetwork(settings, strategy, inputChannels: inputChannels, classes: classes, progressive: state.progressive, backend: backend)
    optimization = Self.makeOptimization(settings, strategy)
    let configuration = network.configuration
    try journal.log([
      "type": "stage_start", "stage": .int(stage), "layers": .int(configuration.layers),
      "channels": .int(configuration.channels), "normal_operations": Self.names(configuration.normalOperations),
      "reduce_operations": Self.names(configuration.reduceOperations),
    ])
    journal.say("stage \(stage + 1)/\(strategy.stageCount): \(configuration.layers) cells, \(configuration.normalOperations[0].count) operations per edge")
    try saveCheckpoint()
  }

  /// Operation names per edge, for events and `architecture.json`.
  static func names(_ operations: [[Primitive]]) -> JSONValue {
    .array(operations.map { .array($0.map { .string($0.name) }) })
  }

  /// Loss and accuracy over the whole architecture split in evaluation mode (running BN
  /// statistics), as the reference reports each epoch. The processes of a job share the
  /// batches (process `r` of `N` evaluates batches `r, r + N, …`) and sum their totals.
  ///
  /// In `training` mode (DARTS-PT's scores, SPEC-ROBUST §3) BN normalises each batch by its
  /// own statistics and updates its running statistics as a side effect; the network mixes
  /// the operations by `operationWeights` when given (else `softmax(α)`). The running
  /// statistics would then differ between processes, so each process measures every batch.
  /// - Throws: ``NonFiniteError`` if the loss is not finite.
  func evaluateArchitectureSplit(training: Bool = false, operationWeights: OperationWeights? = nil) throws -> (loss: Double, accuracy: Double) {
    if !training { network.eval() }
    defer { network.train() }
    var (lossSum, correct, seen) = (0.0, 0, 0)
    let (first, processes) = training ? (0, 1) : (group.rank, group.size)
    try group.together {
      for step in stride(from: first, to: evaluationSampler.batchesPerEpoch, by: processes) {
        let batch = try evaluationSampler.batch(at: BatchPosition(epoch: 0, step: step), on: backend)
        withoutGradients {
          let logits = operationWeights.map { network(batch.images, operationWeights: $0) } ?? network(batch.images)
          lossSum += Double(logits.crossEntropy(labels: batch.labels).scalar) * Double(batch.labels.count)
          correct += SearchOptimization.correctCount(logits: logits, labels: batch.labels)
          seen += batch.labels.count
        }
      }
    }
    let local = [lossSum, Double(correct), Double(seen)]
    let totals = training ? local : try group.sum(local)
    try NonFiniteError.check(totals[0], "the architecture-split loss")
    return (totals[0] / totals[2], totals[1] / totals[2])
  }

  // MARK: Events, architecture, checkpoints

  /// Raw α (and β) with their softmax, by name: the content of `architecture.json`.
  public func architectureJSON() -> JSONValue {
    var object: [String: JSONValue] = [:]
    let topology = network.configuration.topology
    for (name, parameter) in network.architectureParameters {
      let value = parameter.value
      let normalized = withoutGradients {
        value.rank == 2 ? value.softmax(alongAxis: -1) : SearchNetwork.normalizedEdgeWeights(value, topology: topology)
      }
      object[name] = .object([
        "shape": .array(value.shape.map { .int($0) }),
        "raw": .array(value.scalars.map { .double(Double($0)) }),
        "softmax": .array(normalized.scalars.map { .double(Double($0)) }),
      ])
    }
    let configuration = network.configuration
    object["normal_operations"] = Self.names(configuration.normalOperations)
    object["reduce_operations"] = Self.names(configuration.reduceOperations)
    object.merge(strategy.architectureFields(state.progressive, on: backend)) { _, new in new }
    return .object(object)
  }

  private static let momentumPrefix = "optimizer.weights.momentum_buffer."
  private static let firstMomentPrefix = "optimizer.architecture.exp_avg."
  private static let secondMomentPrefix = "optimizer.architecture.exp_avg_sq."

  /// Every tensor of the run: weights, BN buffers, α/β and both optimisers' moments.
  func checkpointTensors() -> [String: Tensor] {
    var tensors = network.stateDict()
    for (name, t) in optimization.weights.momentumBuffers { tensors[Self.momentumPrefix + name] = t }
    for (name, t) in optimization.architecture.firstMoments { tensors[Self.firstMomentPrefix + name] = t }
    for (name, t) in optimization.architecture.secondMoments { tensors[Self.secondMomentPrefix + name] = t }
    return tensors
  }

  /// Saves the checkpoint (the leader), once every process has shown by a checksum that its
  /// replica is the leader's.
  /// - Throws: ``JobFailure`` (on every process) naming the position if the replicas differ.
  /// With `snapshot`, the same checkpoint is first kept as the snapshot of that epoch (DARTS-ADA
  /// rolls back to snapshots; written first, so a checkpoint never lacks the snapshot it implies).
  func saveCheckpoint(snapshot: Int? = nil) throws {
    state.architectureSteps = optimization.architecture.steps
    state.nextEvent = journal.nextEvent
    try saveCheckpoint(state, at: state.position, in: directory, snapshot: snapshot)
  }

  /// Saves every tensor of the run with `state` to `directory`'s checkpoint (the leader),
  /// once every process has shown by a checksum that its replica is the leader's.
  /// - Throws: ``JobFailure`` (on every process) naming `position` if the replicas differ.
  func saveCheckpoint<State: Codable>(_ state: State, at position: BatchPosition, in directory: RunDirectory, snapshot: Int? = nil) throws {
    let tensors = checkpointTensors()
    try group.requireIdenticalReplicas(tensors, holding: "weights, BN statistics, α or optimiser state", before: position, lastGood: directory.lastGoodCheckpoint)
    try group.together {
      guard group.isLeader else { return }
      let checkpoint = Checkpoint(tensors: tensors, state: state)
      if let snapshot { try saveSnapshot(checkpoint, epoch: snapshot) }
      try checkpoint.save(to: directory.checkpointURL)
    }
  }

  func restore(_ checkpoint: Checkpoint<CheckpointState>) throws {
    try restoreTensors(checkpoint.tensors, architectureSteps: checkpoint.state.architectureSteps, from: directory)
    state = checkpoint.state
    if let weightDecay = state.curvature?.weightDecay { optimization.weights.weightDecay = Float(weightDecay) }
  }

  /// Sets the network and both optimisers from checkpoint tensors (``checkpointTensors()``)
  /// and Adam's step counts, after checking that every parameter is there and every buffer
  /// belongs to one of the same shape.
  /// - Throws: ``SearchRunError`` naming `directory`'s checkpoint.
  func restoreTensors(_ tensors: [String: Tensor], architectureSteps: [String: Int], from directory: RunDirectory) throws {
    var model: [String: Tensor] = [:]
    var momentum: [String: Tensor] = [:]
    var first: [String: Tensor] = [:]
    var second: [String: Tensor] = [:]
    for (name, tensor) in tensors {
      if name.hasPrefix(Self.momentumPrefix) {
        momentum[String(name.dropFirst(Self.momentumPrefix.count))] = tensor
      } else if name.hasPrefix(Self.firstMomentPrefix) {
        first[String(name.dropFirst(Self.firstMomentPrefix.count))] = tensor
      } else if name.hasPrefix(Self.secondMomentPrefix) {
        second[String(name.dropFirst(Self.secondMomentPrefix.count))] = tensor
      } else {
        model[name] = tensor
      }
    }
    let expected = Set(network.namedParameters().map(\.name))
    if let missing = expected.subtracting(model.keys).sorted().first {
      throw SearchRunError("\(directory.checkpointURL.path): tensor \(missing) is missing")
    }
    do { try network.update(parameters: model) } catch {
      throw SearchRunError("\(directory.checkpointURL.path): \(error)")
    }
    let shapes = Dictionary(uniqueKeysWithValues: network.namedParameters().map { ($0.name, $0.parameter.value.shape) })
    if let problem = optimizerStateProblem(momentum, shapes: shapes, what: "momentum buffer")
      ?? optimizerStateProblem(first, shapes: shapes, what: "Adam first moment")
      ?? optimizerStateProblem(second, shapes: shapes, what: "Adam second moment") {
      throw SearchRunError("\(directory.checkpointURL.path): \(problem)")
    }
    optimization.weights.momentumBuffers = momentum
    optimization.architecture.firstMoments = first
    optimization.architecture.secondMoments = second
    optimization.architecture.steps = architectureSteps
  }
}

/// A search run that cannot continue, with a one-line reason naming the file or step.
public struct SearchRunError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
