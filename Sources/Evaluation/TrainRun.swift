import DataParallel
import Datasets
import Foundation
import NN
import Runs
import SearchSpace
import TensorCore

/// An evaluation training run (SPEC §6): a network built from a genotype, trained from scratch
/// (or from `initFrom` weights) epoch by epoch with events, checkpoints and exact resume, and
/// evaluated on the test split after every epoch.
///
/// Every random choice is a function of the seed and a position (initialisation of the seed;
/// each batch and its drop-path masks of `(seed, epoch, step)`), and the checkpoint holds the
/// weights, BN buffers, momentum buffers and the position, so a run resumed from any
/// checkpoint continues bit-identically to an uninterrupted run with the same thread count.
/// Each epoch also writes `weights.safetensors` (reference names, loadable by PyTorch).
///
/// Data parallelism (`mpirun -np N darts train …`): every process holds a full replica; the
/// leader's initial (or resumed) state is broadcast to the others; each process loads only its
/// share of every batch (``BatchShard``) and the gradient is averaged over the whole batch
/// (``BatchParallelism``; drop-path masks are drawn per micro-batch, see
/// ``TrainingStep/microBatchGenerator(_:of:)``), so the replicas stay bit-identical, which a
/// checksum agreed at every checkpoint verifies. The processes share the batches of the test
/// and validation splits. Only the leader writes the run directory and the console; a failure
/// on any process stops every process with that process's message.
public final class TrainRun {
  public let settings: TrainSettings
  public let directory: RunDirectory
  /// Where the run's tensors live and its kernels run (`--backend`).
  public let backend: any Backend
  /// The processes of the run's job and how each batch is shared among them (`mpirun`,
  /// `--micro-batches`).
  public let parallelism: BatchParallelism
  private var group: ProcessGroup { parallelism.group }
  public let network: EvaluationNetwork
  public let networkDescription: NetworkDescription
  public private(set) var step: TrainingStep
  private let data: TrainData
  private let journal: RunJournal
  private var state: CheckpointState

  /// What a checkpoint stores besides tensors.
  struct CheckpointState: Codable, EpochCursorStorage {
    /// The next step to run.
    var position: BatchPosition
    var completedSteps: Int
    /// Index of the next event line.
    var nextEvent: Int
    var epochLoss: Double
    var epochCorrect: Int
    var epochSeen: Int
    var settings: TrainSettings
    /// The network (also read by `darts test` from a checkpoint).
    var network: NetworkDescription
  }

  /// Steps per epoch (capped by `maxStepsPerEpoch`).
  public var stepsPerEpoch: Int { min(data.train.batchesPerEpoch, settings.maxStepsPerEpoch ?? .max) }

  /// The data of a run: training batches and the evaluation splits.
  struct TrainData {
    var train: BatchSampler
    var validation: BatchSampler?
    var test: BatchSampler
    var network: NetworkDescription

    /// Loads both parts of the dataset (image folders: lists them; their images are decoded per
    /// batch), the training batches delivering the rows of `shard`; errors name the file or
    /// directory.
    init(_ settings: TrainSettings, shard: BatchShard) throws {
      if let problem = settings.validationProblem() { throw TrainRunError(problem) }
      let directory = settings.dataDirectory.map { URL(fileURLWithPath: $0) }
      let trainImages, testImages: any LabelledImages
      var trainIndices: Range<Int>, testCount: Int
      if settings.dataset == .imageFolder, let directory {
        let trainFolder = try ImageFolder.load(.train, from: directory, transform: settings.imageTransform(training: true))
        let testFolder = try ImageFolder.load(.test, from: directory, transform: settings.imageTransform(training: false))
        guard testFolder.classNames == trainFolder.classNames else {
          throw TrainRunError("\(directory.path): the test folder has other classes than the training folder (\(testFolder.classCount) and \(trainFolder.classCount) class folders)")
        }
        (trainImages, testImages) = (trainFolder, testFolder)
        (trainIndices, testCount) = (0..<trainFolder.count, testFolder.count)
      } else {
        let trainSet = try settings.dataset.load(.train, from: directory)
        let testSet = try settings.dataset.load(.test, from: directory)
        trainIndices = 0..<min(settings.limit ?? trainSet.count, trainSet.count)
        if let portion = settings.trainPortion {
          let split = SearchSplit(count: trainSet.count, trainPortion: portion, limit: trainIndices.count)
          guard !split.weights.isEmpty, !split.architecture.isEmpty else {
            throw TrainRunError("the training set (\(trainIndices.count) images) is too small to split at --train-portion \(portion)")
          }
          trainIndices = split.weights
          validation = BatchSampler(dataset: trainSet, indices: split.architecture, batchSize: settings.batchSize, order: .sequential, augmentation: .evaluation, seed: settings.seed, stream: 1)
        }
        trainImages = AugmentedDataset(trainSet, augmentation: settings.augmentation)
        testImages = AugmentedDataset(testSet, augmentation: .evaluation)
        testCount = min(settings.testLimit ?? testSet.count, testSet.count)
      }
      let shape = trainImages.imageShape
      network = settings.network(inputChannels: shape[0], inputSize: shape[1], classes: trainImages.classCount)
      if let problem = network.problem(batch: settings.batchSize, training: true) {
        throw TrainRunError(problem + (network.problem == nil ? " (lower --batch-size, --init-channels or --layers)" : ""))
      }
      train = BatchSampler(images: trainImages, indices: trainIndices, batchSize: settings.batchSize, order: .epochPermutation, seed: settings.seed, stream: 0, shard: shard)
      test = BatchSampler(images: testImages, indices: 0..<testCount, batchSize: settings.batchSize, order: .sequential, seed: settings.seed, stream: 2)
    }
  }

  private init(
    settings: TrainSettings, data: TrainData, directory: RunDirectory, resuming: Bool, backend kind: BackendKind,
    parallelism: BatchParallelism, output: @escaping (String) -> Void
  ) throws {
    self.settings = settings
    self.directory = directory
    self.data = data
    self.parallelism = parallelism
    networkDescription = data.network
    backend = kind.make(threads: settings.threads)
    var factory = ParameterFactory(backend: backend, seed: settings.seed)
    network = networkDescription.build(using: &factory)
    step = TrainingStep(
      optimizer: SGD(learningRate: Float(settings.learningRate), momentum: Float(settings.momentum), weightDecay: Float(settings.weightDecay)),
      gradientClip: Float(settings.gradientClip), auxiliaryWeight: Float(settings.auxiliaryWeight),
      labelSmoothing: Float(settings.labelSmoothing))
    state = CheckpointState(
      position: BatchPosition(epoch: 0, step: 0), completedSteps: 0, nextEvent: 0, epochLoss: 0, epochCorrect: 0,
      epochSeen: 0, settings: settings, network: networkDescription)

    let (group, backend, network) = (parallelism.group, backend, network)
    // The leader reads the checkpoint; the others receive it from the leader; every process
    // checks it (``restore(_:)``).
    let loaded = try group.together { resuming && group.isLeader ? try Checkpoint<CheckpointState>.load(from: directory.checkpointURL, on: backend) : nil }
    if resuming, let checkpoint = try Checkpoint.replicated(loaded, in: group, naming: directory.checkpointURL.path, on: backend) {
      journal = try group.together {
        group.isLeader ? try RunJournal(directory: directory, resumingAt: checkpoint.state.nextEvent, output: output) : RunJournal(silentFrom: checkpoint.state.nextEvent)
      }
      try group.together { try restore(checkpoint) }
    } else {
      journal = try group.together {
        guard group.isLeader else { return RunJournal(silentFrom: 0) }
        if let initFrom = settings.initFrom {
          try NetworkWeights.load(try NetworkWeights.read(from: URL(fileURLWithPath: initFrom)), into: network)
        }
        try directory.write(settings, to: .config)
        try directory.write(settings.genotype, to: .genotype)
        return try RunJournal(directory: directory, resumingAt: 0, output: output)  // a restarted run's old events go
      }
      // Initial weights: the leader's (initialised, or read from `initFrom`), on every process.
      if group.isDistributed, let initial = try Checkpoint.replicated(Checkpoint(tensors: checkpointTensors(), state: state), in: group, naming: "the initial state", on: backend) {
        try group.together { try restore(initial) }
      }
    }
  }

  /// Starts a new run in a new (or empty) directory, computing on a backend of `backend`'s
  /// kind, as process `group.rank` of a job of `group.size` (the leader creates the directory
  /// and reads `initFrom`; the others write and read nothing). Unless the settings say how
  /// many micro-batches a batch is cut into, it is cut into one per process (and that number
  /// is recorded).
  public static func start(
    _ settings: TrainSettings, in url: URL, backend: BackendKind = .cpu, group: ProcessGroup = .single(),
    output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput
  ) throws -> TrainRun {
    let parallelism = try group.together { try BatchParallelism.shared(batchSize: settings.batchSize, microBatches: settings.microBatches, group: group) }
    var settings = settings
    settings.microBatches = parallelism.shard.chunkCount
    let data = try group.together { try TrainData(settings, shard: parallelism.shard) }  // before the directory exists: bad data leaves nothing behind
    let directory = try group.together { () -> RunDirectory in
      guard group.isLeader else { return RunDirectory.unopened(at: url) }
      if let initFrom = settings.initFrom {  // likewise bad initial weights
        var factory = ParameterFactory(backend: backend.make(threads: 1), seed: settings.seed)
        try NetworkWeights.load(try NetworkWeights.read(from: URL(fileURLWithPath: initFrom)), into: data.network.build(using: &factory))
      }
      return try RunDirectory.create(at: url)
    }
    return try TrainRun(settings: settings, data: data, directory: directory, resuming: false, backend: backend, parallelism: parallelism, output: output)
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
  ) throws -> TrainRun {
    let run = try ResumedRun(opening: url, in: group, output: output) { directory in
      let keys = directory.configKeys
      if keys.contains("method") && !keys.contains("genotype") {
        throw TrainRunError("\(directory.url.path) is a search run, not a training run: use darts search --resume")
      }
      let settings = try directory.read(TrainSettings.self, from: .config)
      if let problem = settings.validationProblem() { throw TrainRunError("\(directory.url(of: .config).path): \(problem)") }
      return settings
    }
    let settings = run.settings
    let parallelism = try group.together { try BatchParallelism.resumed(batchSize: settings.batchSize, recordedMicroBatches: settings.microBatches, group: group) }
    let data = try group.together { try TrainData(settings, shard: parallelism.shard) }
    return try TrainRun(settings: settings, data: data, directory: run.directory, resuming: run.hasCheckpoint, backend: backend, parallelism: parallelism, output: output)
  }

  // MARK: The loop

  /// Runs the remaining epochs.
  /// - Returns: the test metrics after the last epoch.
  @discardableResult
  public func run() throws -> SplitMetrics {
    let plan = settings.learningRatePlan
    let steps = stepsPerEpoch
    let start = state.position
    let loader = BatchLoader(sampler: data.train, on: backend, start: start, stepsPerEpoch: steps, endEpoch: settings.epochs)
    defer { loader.cancel() }
    let runner = EpochRunner(journal: journal, stepsPerEpoch: steps, checkpointEvery: settings.checkpointEvery)
    var test = SplitMetrics(loss: .nan, top1: 0, top5: 0, count: 0)
    for epoch in start.epoch..<settings.epochs {
      let lr = plan.learningRate(epoch: epoch)
      let dropPath = settings.dropPathProbability(epoch: epoch)
      let random = network.randomLayers
      step.optimizer.learningRate = Float(lr)
      var cursor = state.cursor
      try runner.run(
        epoch: epoch, label: "epoch \(epoch + 1)/\(settings.epochs)", cursor: &cursor,
        fields: ["lr": .double(lr), "drop_path": .double(dropPath)],
        step: { index in
          let batch = try group.together {
            guard let batch = loader.next() else {
              if let failure = loader.failure { throw TrainRunError("\(failure)") }
              throw TrainRunError("the batch loader stopped early at epoch \(epoch) step \(index)")
            }
            return batch
          }
          // Masks (and the noise of a genotype from the search space S4) keyed by the position
          // only: a resumed run, and every process, draws the same.
          var generator = derivedGenerator(settings.seed, 3, UInt64(epoch), UInt64(index))
          reseed(random, from: derivedGenerator(settings.seed, 4, UInt64(epoch), UInt64(index)))
          let result = try directory.stoppingOnNonFinite(at: "epoch \(epoch) step \(index)") {
            let result = try step(
              network, images: batch.images, labels: batch.labels, globalCount: batch.globalCount, dropPath: Float(dropPath),
              generator: &generator, parallelism: parallelism)
            try NonFiniteError.check(checkpointTensors(), after: "the step")
            return result
          }
          var fields: [String: JSONValue] = [:]
          if let a = result.auxiliaryLoss { fields["auxiliary_loss"] = .double(Double(a)) }
          return StepReport(loss: Double(result.loss), correct: result.correct, count: batch.globalCount, fields: fields)
        },
        evaluate: {
          reseed(random, from: derivedGenerator(settings.seed, 4, UInt64(epoch), UInt64.max))
          test = try directory.stoppingOnNonFinite(at: "epoch \(epoch) test split") {
            try SplitMetrics.evaluate(network, on: data.test, backend: backend, group: group)
          }
          var summary = EpochSummary(fields: ["test_loss": .double(test.loss), "test_top1": .double(test.top1), "test_top5": .double(test.top5)])
          if let validation = data.validation {
            let valid = try directory.stoppingOnNonFinite(at: "epoch \(epoch) validation split") {
              try SplitMetrics.evaluate(network, on: validation, backend: backend, group: group)
            }
            summary.fields["valid_loss"] = .double(valid.loss)
            summary.fields["valid_top1"] = .double(valid.top1)
            summary.fields["valid_top5"] = .double(valid.top5)
            summary.text = String(format: "  valid loss %.4f top1 %.4f", valid.loss, valid.top1)
          }
          summary.text += String(format: "  test loss %.4f top1 %.4f top5 %.4f", test.loss, test.top1, test.top5)
          return summary
        },
        checkpoint: { cursor in
          state.cursor = cursor
          try saveCheckpoint()
        })
      state.cursor = cursor
      try saveCheckpoint(exportingWeights: true)
    }
    return test
  }

  // MARK: Checkpoints

  private static let momentumPrefix = NetworkWeights.optimizerPrefix + "momentum_buffer."

  /// Every tensor of the run: weights, BN buffers and momentum buffers.
  private func checkpointTensors() -> [String: Tensor] {
    network.stateDict().merging(step.optimizer.momentumBuffers.withPrefix(Self.momentumPrefix)) { a, _ in a }
  }

  /// Saves the checkpoint (the leader), after `weights.safetensors` when `exportingWeights`
  /// (at epoch ends), once every process has shown by a checksum that its replica is the
  /// leader's.
  /// - Throws: ``JobFailure`` (on every process) naming the position if the replicas differ.
  private func saveCheckpoint(exportingWeights: Bool = false) throws {
    state.nextEvent = journal.nextEvent
    let tensors = checkpointTensors()
    try group.requireIdenticalReplicas(tensors, holding: "weights, BN statistics or momentum buffers", before: state.position, lastGood: directory.lastGoodCheckpoint)
    try group.together {
      guard group.isLeader else { return }
      if exportingWeights { try NetworkWeights.write(network, description: networkDescription, to: directory.weightsURL) }
      try Checkpoint(tensors: tensors, state: state).save(to: directory.checkpointURL)
    }
  }

  private func restore(_ checkpoint: Checkpoint<CheckpointState>) throws {
    guard checkpoint.state.settings == settings, checkpoint.state.network == networkDescription else {
      throw TrainRunError("\(directory.checkpointURL.path): the checkpoint was written with other settings than \(directory.url(of: .config).path)")
    }
    if let problem = checkpoint.state.cursor.problem(totalEpochs: settings.epochs, stepsPerEpoch: stepsPerEpoch)
      ?? (checkpoint.state.nextEvent < 0 ? "next_event is negative (\(checkpoint.state.nextEvent))" : nil) {
      throw TrainRunError("\(directory.checkpointURL.path): \(problem)")
    }
    let model = checkpoint.tensors.filter { !$0.key.hasPrefix(NetworkWeights.optimizerPrefix) }
    if let missing = Set(network.namedParameters().map(\.name)).subtracting(model.keys).sorted().first {
      throw TrainRunError("\(directory.checkpointURL.path): tensor \(missing) is missing")
    }
    do { try network.update(parameters: model) } catch {
      throw TrainRunError("\(directory.checkpointURL.path): \(error)")
    }
    let momentum = checkpoint.tensors.withPrefixRemoved(Self.momentumPrefix)
    let shapes = Dictionary(uniqueKeysWithValues: network.namedParameters().map { ($0.name, $0.parameter.value.shape) })
    if let problem = optimizerStateProblem(momentum, shapes: shapes, what: "momentum buffer") {
      throw TrainRunError("\(directory.checkpointURL.path): \(problem)")
    }
    step.optimizer.momentumBuffers = momentum
    state = checkpoint.state
  }
}

/// A training run that cannot continue, with a one-line reason naming the file or step.
public struct TrainRunError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
