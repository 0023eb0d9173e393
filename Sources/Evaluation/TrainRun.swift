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
public final class TrainRun {
  public let settings: TrainSettings
  public let directory: RunDirectory
  /// Where the run's tensors live and its kernels run (`--backend`).
  public let backend: any Backend
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
    /// batch); errors name the file or directory.
    init(_ settings: TrainSettings) throws {
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
      train = BatchSampler(images: trainImages, indices: trainIndices, batchSize: settings.batchSize, order: .epochPermutation, seed: settings.seed, stream: 0)
      test = BatchSampler(images: testImages, indices: 0..<testCount, batchSize: settings.batchSize, order: .sequential, seed: settings.seed, stream: 2)
    }
  }

  private init(settings: TrainSettings, data: TrainData, directory: RunDirectory, resuming: Bool, backend kind: BackendKind, output: @escaping (String) -> Void) throws {
    self.settings = settings
    self.directory = directory
    self.data = data
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

    if resuming {
      let checkpoint = try Checkpoint<CheckpointState>.load(from: directory.checkpointURL, on: backend)
      journal = try RunJournal(directory: directory, resumingAt: checkpoint.state.nextEvent, output: output)
      try restore(checkpoint)
    } else {
      if let initFrom = settings.initFrom {
        try NetworkWeights.load(try NetworkWeights.read(from: URL(fileURLWithPath: initFrom)), into: network)
      }
      try directory.write(settings, to: .config)
      try directory.write(settings.genotype, to: .genotype)
      journal = try RunJournal(directory: directory, resumingAt: 0, output: output)  // a restarted run's old events go
    }
  }

  /// Starts a new run in a new (or empty) directory, computing on a backend of `backend`'s
  /// kind.
  public static func start(
    _ settings: TrainSettings, in url: URL, backend: BackendKind = .cpu,
    output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput
  ) throws -> TrainRun {
    let data = try TrainData(settings)  // before the directory exists: bad data leaves nothing behind
    if let initFrom = settings.initFrom {  // likewise bad initial weights
      var factory = ParameterFactory(backend: backend.make(threads: 1), seed: settings.seed)
      try NetworkWeights.load(try NetworkWeights.read(from: URL(fileURLWithPath: initFrom)), into: data.network.build(using: &factory))
    }
    return try TrainRun(settings: settings, data: data, directory: try RunDirectory.create(at: url), resuming: false, backend: backend, output: output)
  }

  /// Re-opens the run in `url` at its last checkpoint, with the settings in its `config.json`.
  /// A run that died before its first checkpoint starts again from its `config.json`. The
  /// backend is not part of a run's settings: a run may resume on another one.
  public static func resume(
    _ url: URL, backend: BackendKind = .cpu,
    output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput
  ) throws -> TrainRun {
    let directory = try RunDirectory.resume(at: url)
    let keys = directory.configKeys
    if keys.contains("method") && !keys.contains("genotype") {
      throw TrainRunError("\(directory.url.path) is a search run, not a training run: use darts search --resume")
    }
    let settings = try directory.read(TrainSettings.self, from: .config)
    if let problem = settings.validationProblem() { throw TrainRunError("\(directory.url(of: .config).path): \(problem)") }
    if !directory.hasCheckpoint {
      output("\(directory.url.path) has no checkpoint (the run stopped before its first one): starting it again from config.json\n")
    }
    return try TrainRun(settings: settings, data: try TrainData(settings), directory: directory, resuming: directory.hasCheckpoint, backend: backend, output: output)
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
      step.optimizer.learningRate = Float(lr)
      var cursor = state.cursor
      try runner.run(
        epoch: epoch, label: "epoch \(epoch + 1)/\(settings.epochs)", cursor: &cursor,
        fields: ["lr": .double(lr), "drop_path": .double(dropPath)],
        step: { index in
          guard let batch = loader.next() else {
            if let failure = loader.failure { throw TrainRunError("\(failure)") }
            throw TrainRunError("the batch loader stopped early at epoch \(epoch) step \(index)")
          }
          var generator = derivedGenerator(settings.seed, 3, UInt64(epoch), UInt64(index))
          let result = try directory.stoppingOnNonFinite(at: "epoch \(epoch) step \(index)") {
            let result = try step(network, images: batch.images, labels: batch.labels, dropPath: Float(dropPath), generator: &generator)
            try NonFiniteError.check(checkpointTensors(), after: "the step")
            return result
          }
          var fields: [String: JSONValue] = [:]
          if let a = result.auxiliaryLoss { fields["auxiliary_loss"] = .double(Double(a)) }
          return StepReport(loss: Double(result.loss), correct: result.correct, count: batch.labels.count, fields: fields)
        },
        evaluate: {
          test = try directory.stoppingOnNonFinite(at: "epoch \(epoch) test split") {
            try SplitMetrics.evaluate(network, on: data.test, backend: backend)
          }
          var summary = EpochSummary(fields: ["test_loss": .double(test.loss), "test_top1": .double(test.top1), "test_top5": .double(test.top5)])
          if let validation = data.validation {
            let valid = try directory.stoppingOnNonFinite(at: "epoch \(epoch) validation split") {
              try SplitMetrics.evaluate(network, on: validation, backend: backend)
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
      try NetworkWeights.write(network, description: networkDescription, to: directory.weightsURL)
      try saveCheckpoint()
    }
    return test
  }

  // MARK: Checkpoints

  private static let momentumPrefix = NetworkWeights.optimizerPrefix + "momentum_buffer."

  /// Every tensor of the run: weights, BN buffers and momentum buffers.
  private func checkpointTensors() -> [String: Tensor] {
    network.stateDict().merging(step.optimizer.momentumBuffers.withPrefix(Self.momentumPrefix)) { a, _ in a }
  }

  private func saveCheckpoint() throws {
    state.nextEvent = journal.nextEvent
    try Checkpoint(tensors: checkpointTensors(), state: state).save(to: directory.checkpointURL)
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
