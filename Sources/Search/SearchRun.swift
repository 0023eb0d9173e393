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
public final class SearchRun {
  public let settings: SearchSettings
  public let directory: RunDirectory
  public let backend: CPUBackend
  public let network: SearchNetwork
  public private(set) var optimization: SearchOptimization
  private let trainSampler: BatchSampler
  private let architectureSampler: BatchSampler
  private let evaluationSampler: BatchSampler
  private let journal: RunJournal
  private var state: CheckpointState
  private let output: (String) -> Void

  /// What a checkpoint stores besides tensors.
  struct CheckpointState: Codable {
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
  }

  /// Steps per epoch (capped by `maxStepsPerEpoch`).
  public var stepsPerEpoch: Int { min(trainSampler.batchesPerEpoch, settings.maxStepsPerEpoch ?? .max) }

  /// The data of a run: the weight / architecture / evaluation samplers of the training set.
  struct SearchData {
    var train: BatchSampler
    var architecture: BatchSampler
    var evaluation: BatchSampler

    /// Loads and splits the training set: by index (SPEC §2.1), or per class for image folders
    /// (SPEC §5.5); errors name the file or directory.
    init(_ settings: SearchSettings) throws {
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
      train = BatchSampler(images: weights, indices: weightIndices, batchSize: settings.batchSize, order: .epochPermutation, seed: settings.seed, stream: 0)
      self.architecture = BatchSampler(images: architecture, indices: architectureIndices, batchSize: settings.batchSize, order: .freshRandom, seed: settings.seed, stream: 1)
      self.evaluation = BatchSampler(images: evaluation, indices: architectureIndices, batchSize: settings.batchSize, order: .sequential, seed: settings.seed, stream: 2)
    }
  }

  private init(settings: SearchSettings, data: SearchData, directory: RunDirectory, resuming: Bool, output: @escaping (String) -> Void) throws {
    self.settings = settings
    self.directory = directory
    self.output = output
    backend = CPUBackend(threads: settings.threads)
    trainSampler = data.train
    architectureSampler = data.architecture
    evaluationSampler = data.evaluation
    let images = data.train.images

    var factory = ParameterFactory(backend: backend, seed: settings.seed)
    network = SearchNetwork(settings.networkConfiguration(inputChannels: images.imageShape[0], classes: images.classCount), using: &factory)
    optimization = SearchOptimization(
      weights: SGD(learningRate: Float(settings.learningRate), momentum: Float(settings.momentum), weightDecay: Float(settings.weightDecay)),
      architecture: Adam(learningRate: settings.architectureLearningRate, beta1: 0.5, beta2: 0.999, weightDecay: settings.architectureWeightDecay),
      architect: Architect(order: settings.order == 2 ? .second : .first),
      weightGradientClip: Float(settings.gradientClip),
      architectureGradientClip: settings.architectureGradientClip.map(Float.init) ?? (settings.method == .pDarts ? 5 : nil))
    state = CheckpointState(position: BatchPosition(epoch: 0, step: 0), completedSteps: 0, nextEvent: 0, architectureSteps: [:], epochLoss: 0, epochCorrect: 0, epochSeen: 0, settings: settings)

    if resuming {
      let checkpoint = try Checkpoint<CheckpointState>.load(from: directory.checkpointURL, on: backend)
      journal = try RunJournal(directory: directory, resumingAt: checkpoint.state.nextEvent, output: output)
      try restore(checkpoint)
    } else {
      try directory.write(settings, to: .config)
      journal = try RunJournal(directory: directory, output: output)
    }
  }

  /// Starts a new run in a new (or empty) directory.
  public static func start(_ settings: SearchSettings, in url: URL, output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput) throws -> SearchRun {
    let data = try SearchData(settings)  // before the directory exists: bad data leaves nothing behind
    return try SearchRun(settings: settings, data: data, directory: try RunDirectory.create(at: url), resuming: false, output: output)
  }

  /// Re-opens the run in `url` at its last checkpoint, with the settings in its `config.json`.
  public static func resume(_ url: URL, output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput) throws -> SearchRun {
    let directory = try RunDirectory.resume(at: url)
    let settings = try directory.read(SearchSettings.self, from: .config)
    return try SearchRun(settings: settings, data: try SearchData(settings), directory: directory, resuming: true, output: output)
  }

  // MARK: The loop

  /// Runs the remaining epochs; writes `genotype.json` and `architecture.json` at the end.
  /// - Returns: the final genotype.
  @discardableResult
  public func run() throws -> Genotype {
    let steps = stepsPerEpoch
    let start = state.position
    let trainLoader = BatchLoader(sampler: trainSampler, on: backend, start: start, stepsPerEpoch: steps, endEpoch: settings.epochs)
    let architectureLoader = BatchLoader(sampler: architectureSampler, on: backend, start: start, stepsPerEpoch: steps, endEpoch: settings.epochs)
    defer {
      trainLoader.cancel()
      architectureLoader.cancel()
    }
    let clock = ContinuousClock()
    for epoch in start.epoch..<settings.epochs {
      let epochStart = clock.now
      optimization.weights.learningRate = Float(settings.learningRate(epoch: epoch))
      let updateArchitecture = epoch >= settings.architectureWarmupEpochs
      if state.position.step == 0 {
        try journal.log(["type": "epoch_start", "epoch": .int(epoch), "lr": .double(settings.learningRate(epoch: epoch)), "genotype": .string(GenotypeDerivation.genotype(of: network).description)])
      }
      let progress = journal.progress(label: "epoch \(epoch + 1)/\(settings.epochs)", total: steps)
      for step in state.position.step..<steps {
        guard let train = trainLoader.next(), let valid = architectureLoader.next() else {
          if let failure = trainLoader.failure ?? architectureLoader.failure { throw SearchRunError("\(failure)") }
          throw SearchRunError("the batch loader stopped early at epoch \(epoch) step \(step)")
        }
        let stepStart = clock.now
        let result: SearchOptimization.StepResult
        do {
          result = try optimization.step(
            network: network, train: LabelledBatch(images: train.images, labels: train.labels),
            valid: LabelledBatch(images: valid.images, labels: valid.labels), updateArchitecture: updateArchitecture)
        } catch let error as SearchError {
          throw SearchRunError("epoch \(epoch) step \(step): \(error); the last good checkpoint is \(directory.checkpointURL.path)")
        }
        state.epochLoss += Double(result.loss) * Double(train.labels.count)
        state.epochCorrect += result.correct
        state.epochSeen += train.labels.count
        state.completedSteps += 1
        state.position = BatchPosition(epoch: epoch, step: step).advanced(stepsPerEpoch: steps)
        var event: [String: JSONValue] = [
          "type": "step", "epoch": .int(epoch), "step": .int(step), "global_step": .int(state.completedSteps),
          "loss": .double(Double(result.loss)), "accuracy": .double(Double(result.correct) / Double(train.labels.count)),
          "lr": .double(Double(optimization.weights.learningRate)), "seconds": .double((clock.now - stepStart).inSeconds),
          "peak_memory_bytes": .int(ProcessMemory.peakResidentBytes() ?? 0),
        ]
        if let a = result.architectureLoss { event["architecture_loss"] = .double(Double(a)) }
        try journal.log(event)
        progress.step(step + 1, metrics: [("loss", state.epochLoss / Double(state.epochSeen)), ("acc", Double(state.epochCorrect) / Double(state.epochSeen))])
        if let every = settings.checkpointEvery, state.completedSteps % every == 0, step + 1 < steps {
          try saveCheckpoint()
        }
      }
      progress.finish()
      let (validLoss, validAccuracy) = try evaluateArchitectureSplit()
      let genotype = GenotypeDerivation.genotype(of: network)
      try journal.log([
        "type": "epoch", "epoch": .int(epoch), "global_step": .int(state.completedSteps),
        "train_loss": .double(state.epochLoss / Double(state.epochSeen)), "train_accuracy": .double(Double(state.epochCorrect) / Double(state.epochSeen)),
        "valid_loss": .double(validLoss), "valid_accuracy": .double(validAccuracy), "lr": .double(Double(optimization.weights.learningRate)),
        "genotype": .string(genotype.description), "architecture": architectureJSON(),
        "seconds": .double((clock.now - epochStart).inSeconds), "peak_memory_bytes": .int(ProcessMemory.peakResidentBytes() ?? 0),
      ])
      journal.say(String(format: "epoch %d/%d  train loss %.4f acc %.4f  valid loss %.4f acc %.4f  %.0f s", epoch + 1, settings.epochs, state.epochLoss / Double(state.epochSeen), Double(state.epochCorrect) / Double(state.epochSeen), validLoss, validAccuracy, (clock.now - epochStart).inSeconds))
      journal.say("genotype: \(genotype)")
      (state.epochLoss, state.epochCorrect, state.epochSeen) = (0, 0, 0)
      try saveCheckpoint()
    }
    let genotype = GenotypeDerivation.genotype(of: network)
    try directory.write(genotype, to: .genotype)
    try directory.write(architectureJSON(), to: .architecture)
    return genotype
  }

  /// Loss and accuracy over the whole architecture split in evaluation mode (running BN
  /// statistics), as the reference reports each epoch.
  private func evaluateArchitectureSplit() throws -> (loss: Double, accuracy: Double) {
    network.eval()
    defer { network.train() }
    var (lossSum, correct, seen) = (0.0, 0, 0)
    for step in 0..<evaluationSampler.batchesPerEpoch {
      let batch = try evaluationSampler.batch(at: BatchPosition(epoch: 0, step: step), on: backend)
      withoutGradients {
        let logits = network(batch.images)
        lossSum += Double(logits.crossEntropy(labels: batch.labels).scalar) * Double(batch.labels.count)
        correct += SearchOptimization.correctCount(logits: logits, labels: batch.labels)
        seen += batch.labels.count
      }
    }
    return (lossSum / Double(seen), Double(correct) / Double(seen))
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
    object["normal_operations"] = .array(configuration.normalOperations.map { .array($0.map { .string($0.name) }) })
    object["reduce_operations"] = .array(configuration.reduceOperations.map { .array($0.map { .string($0.name) }) })
    return .object(object)
  }

  private static let momentumPrefix = "optimizer.weights.momentum_buffer."
  private static let firstMomentPrefix = "optimizer.architecture.exp_avg."
  private static let secondMomentPrefix = "optimizer.architecture.exp_avg_sq."

  private func saveCheckpoint() throws {
    var tensors = network.stateDict()
    for (name, t) in optimization.weights.momentumBuffers { tensors[Self.momentumPrefix + name] = t }
    for (name, t) in optimization.architecture.firstMoments { tensors[Self.firstMomentPrefix + name] = t }
    for (name, t) in optimization.architecture.secondMoments { tensors[Self.secondMomentPrefix + name] = t }
    state.architectureSteps = optimization.architecture.steps
    state.nextEvent = journal.nextEvent
    try Checkpoint(tensors: tensors, state: state).save(to: directory.checkpointURL)
  }

  private func restore(_ checkpoint: Checkpoint<CheckpointState>) throws {
    guard checkpoint.state.settings == settings else {
      throw SearchRunError("\(directory.checkpointURL.path): the checkpoint was written with other settings than \(directory.url(of: .config).path)")
    }
    var model: [String: Tensor] = [:]
    var momentum: [String: Tensor] = [:]
    var first: [String: Tensor] = [:]
    var second: [String: Tensor] = [:]
    for (name, tensor) in checkpoint.tensors {
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
    optimization.weights.momentumBuffers = momentum
    optimization.architecture.firstMoments = first
    optimization.architecture.secondMoments = second
    optimization.architecture.steps = checkpoint.state.architectureSteps
    state = checkpoint.state
  }
}

/// A search run that cannot continue, with a one-line reason naming the file or step.
public struct SearchRunError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
