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
/// P-DARTS (SPEC §4) runs the same epoch loop once per stage: positions count epochs across
/// stages (stage `s` owns epochs `s·E ..< (s+1)·E`), and between stages the operations are
/// dropped and the network, α and optimisers are built afresh (`ProgressiveRules`). Skip
/// dropout masks are seeded by `(seed, epoch, step)`, so they too survive a resume.
public final class SearchRun {
  public let settings: SearchSettings
  public let directory: RunDirectory
  public let backend: CPUBackend
  public private(set) var network: SearchNetwork
  public private(set) var optimization: SearchOptimization
  /// Image channels and classes of the dataset (for rebuilding the network at a stage).
  private let inputChannels: Int
  private let classes: Int
  private let trainSampler: BatchSampler
  private let architectureSampler: BatchSampler
  private let evaluationSampler: BatchSampler
  private let journal: RunJournal
  private var state: CheckpointState
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

    /// One line naming the first field that cannot belong to a run of `settings` with
    /// `stepsPerEpoch` steps and cells of `topology`, or nil: checked on load, before any of
    /// it is used.
    func problem(stepsPerEpoch: Int, topology: CellTopology) -> String? {
      let epochs = settings.epochs
      if let problem = cursor.problem(totalEpochs: settings.stageCount * epochs, stepsPerEpoch: stepsPerEpoch) { return problem }
      if nextEvent < 0 { return "next_event is negative (\(nextEvent))" }
      if let (name, steps) = architectureSteps.first(where: { $0.value < 0 }) { return "Adam's step count of \(name) is negative (\(steps))" }
      guard let stages = settings.progressive else {
        return progressive == nil ? nil : "the checkpoint has P-DARTS stages but the run is not P-DARTS"
      }
      guard let progressive else { return "the checkpoint has no P-DARTS stage" }
      let stage = progressive.stage
      guard (0..<stages.stageCount).contains(stage) else { return "P-DARTS stage \(stage) is outside 0..<\(stages.stageCount)" }
      let epochStage = position.epoch / epochs
      guard stage == epochStage || (position.epoch % epochs == 0 && stage == epochStage - 1) else {
        return "P-DARTS stage \(stage) does not own the resume position's epoch \(position.epoch)"
      }
      guard progressive.finished.count == stage else { return "P-DARTS stage \(stage) has \(progressive.finished.count) finished stages recorded" }
      let operationCounts = [Primitive.searchSpace.count] + stages.operationsKept
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
  }

  /// Where a P-DARTS run is among its stages.
  struct ProgressiveState: Codable {
    /// The running stage (0-based).
    var stage: Int
    /// The operations of each edge in this stage (the reference's switches that are on).
    var normalOperations: [[Primitive]]
    var reduceOperations: [[Primitive]]
    /// The stages finished so far.
    var finished: [FinishedStage]
  }

  /// A finished P-DARTS stage: its network, operations and final α (raw, `[edges, ops]`).
  struct FinishedStage: Codable {
    var layers: Int
    var channels: Int
    var normalOperations: [[Primitive]]
    var reduceOperations: [[Primitive]]
    var alphasNormal: [Float]
    var alphasReduce: [Float]
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
      if let problem = Self.memoryProblem(settings, imageShape: weights.imageShape, classes: weights.classCount) { throw SearchRunError(problem) }
      train = BatchSampler(images: weights, indices: weightIndices, batchSize: settings.batchSize, order: .epochPermutation, seed: settings.seed, stream: 0)
      // DARTS draws each α batch afresh; P-DARTS reads the α half as an iterator, restarted
      // (reshuffled) when exhausted: one permutation per epoch for equal halves, more when the
      // α half is the smaller (SPEC §2.1, `BatchSampler.sourcePosition`).
      let progressive = settings.progressive != nil
      self.architecture = BatchSampler(images: architecture, indices: architectureIndices, batchSize: settings.batchSize, order: progressive ? .epochPermutation : .freshRandom, seed: settings.seed, stream: 1)
      self.evaluation = BatchSampler(images: evaluation, indices: architectureIndices, batchSize: settings.batchSize, order: .sequential, seed: settings.seed, stream: 2)
    }

    /// Why the supernet of some stage cannot fit this machine at the settings' batch size
    /// (``MemoryEstimate``; a later P-DARTS stage is counted with its cheapest operations), or nil.
    static func memoryProblem(_ settings: SearchSettings, imageShape: [Int], classes: Int) -> String? {
      var configuration = settings.networkConfiguration(inputChannels: imageShape[0], classes: classes)
      for stage in 0..<settings.stageCount {
        if let stages = settings.progressive, stage > 0 {
          configuration.layers = stages.layers(stage: stage, base: settings.layers)
          configuration.channels = stages.channels(stage: stage, base: settings.channels)
          let cheapest = Array(Primitive.searchSpace.sorted { $0.squaredChannelWeights < $1.squaredChannelWeights }.prefix(stages.operationsKept[stage - 1]))
          configuration.normalOperations = configuration.normalOperations.map { _ in cheapest }
          configuration.reduceOperations = configuration.normalOperations
        }
        let what = settings.stageCount > 1 ? "stage \(stage + 1)'s supernet with a batch of \(settings.batchSize)" : "the supernet with a batch of \(settings.batchSize)"
        if let problem = configuration.memoryEstimate(inputSize: imageShape[1], batch: settings.batchSize).problem(what) {
          return problem + " (lower --batch-size, --init-channels or --layers)"
        }
      }
      return nil
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
    inputChannels = data.train.images.imageShape[0]
    classes = data.train.images.classCount

    let all = settings.networkConfiguration(inputChannels: inputChannels, classes: classes)
    let progressive = settings.progressive.map { _ in
      ProgressiveState(stage: 0, normalOperations: all.normalOperations, reduceOperations: all.reduceOperations, finished: [])
    }
    state = CheckpointState(position: BatchPosition(epoch: 0, step: 0), completedSteps: 0, nextEvent: 0, architectureSteps: [:], epochLoss: 0, epochCorrect: 0, epochSeen: 0, settings: settings, progressive: progressive)
    var checkpoint: Checkpoint<CheckpointState>?
    if resuming {
      let loaded = try Checkpoint<CheckpointState>.load(from: directory.checkpointURL, on: backend)
      guard loaded.state.settings == settings else {
        throw SearchRunError("\(directory.checkpointURL.path): the checkpoint was written with other settings than \(directory.url(of: .config).path)")
      }
      // The whole state is checked before any of it shapes the network.
      let steps = min(data.train.batchesPerEpoch, settings.maxStepsPerEpoch ?? .max)
      if let problem = loaded.state.problem(stepsPerEpoch: steps, topology: CellTopology(steps: settings.nodes)) {
        throw SearchRunError("\(directory.checkpointURL.path): \(problem)")
      }
      state.progressive = loaded.state.progressive
      checkpoint = loaded
    }
    network = Self.makeNetwork(settings, inputChannels: inputChannels, classes: classes, progressive: state.progressive, backend: backend)
    optimization = Self.makeOptimization(settings)

    if let checkpoint {
      journal = try RunJournal(directory: directory, resumingAt: checkpoint.state.nextEvent, output: output)
      try restore(checkpoint)
    } else {
      try directory.write(settings, to: .config)
      journal = try RunJournal(directory: directory, resumingAt: 0, output: output)  // a restarted run's old events go
    }
  }

  /// Starts a new run in a new (or empty) directory.
  public static func start(_ settings: SearchSettings, in url: URL, output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput) throws -> SearchRun {
    let data = try SearchData(settings)  // before the directory exists: bad data leaves nothing behind
    return try SearchRun(settings: settings, data: data, directory: try RunDirectory.create(at: url), resuming: false, output: output)
  }

  /// Re-opens the run in `url` at its last checkpoint, with the settings in its `config.json`.
  /// A run that died before its first checkpoint starts again from its `config.json`.
  public static func resume(_ url: URL, output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput) throws -> SearchRun {
    let directory = try RunDirectory.resume(at: url)
    let keys = directory.configKeys
    if keys.contains("genotype") && !keys.contains("method") {
      throw SearchRunError("\(directory.url.path) is a training run, not a search run: use darts train --resume")
    }
    let settings = try directory.read(SearchSettings.self, from: .config)
    if let problem = settings.validationProblem() { throw SearchRunError("\(directory.url(of: .config).path): \(problem)") }
    if !directory.hasCheckpoint {
      output("\(directory.url.path) has no checkpoint (the run stopped before its first one): starting it again from config.json\n")
    }
    return try SearchRun(settings: settings, data: try SearchData(settings), directory: directory, resuming: directory.hasCheckpoint, output: output)
  }

  /// The supernet of the settings, or of the running P-DARTS stage: its cells, channels and
  /// operations, skip dropout when the stage's rate is positive, weights and α initialised
  /// from the seed (stage 0) or from `(seed, stage)`.
  private static func makeNetwork(
    _ settings: SearchSettings, inputChannels: Int, classes: Int, progressive: ProgressiveState?, backend: CPUBackend
  ) -> SearchNetwork {
    var configuration = settings.networkConfiguration(inputChannels: inputChannels, classes: classes)
    var seed = settings.seed
    if let stages = settings.progressive, let progressive {
      let stage = progressive.stage
      configuration.layers = stages.layers(stage: stage, base: settings.layers)
      configuration.channels = stages.channels(stage: stage, base: settings.channels)
      configuration.normalOperations = progressive.normalOperations
      configuration.reduceOperations = progressive.reduceOperations
      configuration.skipDropout = stages.skipDropout[stage] > 0
      if stage > 0 {
        var generator = derivedGenerator(settings.seed, Self.stageStream, UInt64(stage))
        seed = generator.next()
      }
    }
    var factory = ParameterFactory(backend: backend, seed: seed)
    return SearchNetwork(configuration, using: &factory)
  }

  /// Fresh optimisers (every run, and every P-DARTS stage).
  private static func makeOptimization(_ settings: SearchSettings) -> SearchOptimization {
    SearchOptimization(
      weights: SGD(learningRate: Float(settings.learningRate), momentum: Float(settings.momentum), weightDecay: Float(settings.weightDecay)),
      architecture: Adam(learningRate: settings.architectureLearningRate, beta1: 0.5, beta2: 0.999, weightDecay: settings.architectureWeightDecay),
      architect: Architect(order: settings.order == 2 ? .second : .first),
      weightGradientClip: Float(settings.gradientClip),
      architectureGradientClip: settings.architectureGradientClip.map(Float.init) ?? (settings.method == .pDarts ? 5 : nil))
  }

  /// Random streams of a run besides the samplers' 0–2.
  private static let stageStream: UInt64 = 3
  private static let dropoutStream: UInt64 = 4

  /// The skip-connect dropout layers of the network.
  private var skipDropouts: [Dropout] { network.modules().compactMap { $0 as? Dropout } }

  // MARK: The loop

  /// Runs the remaining epochs (of every remaining stage); writes `genotype.json` and
  /// `architecture.json` at the end.
  /// - Returns: the final genotype (P-DARTS: the skip-capped cell of SPEC §4.6).
  @discardableResult
  public func run() throws -> Genotype {
    while true {
      try runStage()
      guard stage + 1 < settings.stageCount else { break }
      try advanceStage()
    }
    if settings.progressive != nil { return try finishProgressive() }
    let genotype = GenotypeDerivation.genotype(of: network)
    try directory.write(genotype, to: .genotype)
    try directory.write(architectureJSON(), to: .architecture)
    return genotype
  }

  /// The remaining epochs of the running stage (the whole run for single-stage methods).
  private func runStage() throws {
    let steps = stepsPerEpoch
    let start = state.position
    let firstEpoch = stage * settings.epochs  // positions count epochs across stages
    let endEpoch = firstEpoch + settings.epochs
    guard start.epoch < endEpoch else { return }
    let trainLoader = BatchLoader(sampler: trainSampler, on: backend, start: start, stepsPerEpoch: steps, endEpoch: endEpoch)
    let architectureLoader = BatchLoader(sampler: architectureSampler, on: backend, start: start, stepsPerEpoch: steps, endEpoch: endEpoch)
    defer {
      trainLoader.cancel()
      architectureLoader.cancel()
    }
    let runner = EpochRunner(journal: journal, stepsPerEpoch: steps, checkpointEvery: settings.checkpointEvery)
    let stageFields: [String: JSONValue] = settings.progressive == nil ? [:] : ["stage": .int(stage)]
    let stageLabel = settings.progressive == nil ? "" : "stage \(stage + 1)/\(settings.stageCount) "
    for position in start.epoch..<endEpoch {
      let epoch = position - firstEpoch
      let lr = settings.learningRate(epoch: epoch)
      optimization.weights.learningRate = Float(lr)
      let updateArchitecture = epoch >= settings.architectureWarmupEpochs
      let dropout = skipDropouts
      if let stages = settings.progressive, !dropout.isEmpty {
        let rate = ProgressiveRules.skipDropoutRate(initial: stages.skipDropout[stage], epoch: epoch, epochs: settings.epochs, warmupEpochs: settings.architectureWarmupEpochs)
        for layer in dropout { layer.probability = Float(rate) }
      }
      var genotype = GenotypeDerivation.genotype(of: network)
      var startFields: [String: JSONValue] = ["genotype": .string(genotype.description)]
      if let rate = dropout.first?.probability { startFields["skip_dropout"] = .double(Double(rate)) }
      var cursor = state.cursor
      try runner.run(
        epoch: epoch, label: "\(stageLabel)epoch \(epoch + 1)/\(settings.epochs)", cursor: &cursor,
        fields: stageFields.merging(["lr": .double(lr)]) { a, _ in a }, startFields: startFields,
        step: { index in
          if !dropout.isEmpty {
            // Masks keyed by the position only: a resumed run draws the same ones.
            var generator = derivedGenerator(settings.seed, Self.dropoutStream, UInt64(position), UInt64(index))
            for layer in dropout { layer.generator = generator.split() }
          }
          guard let train = trainLoader.next(), let valid = architectureLoader.next() else {
            if let failure = trainLoader.failure ?? architectureLoader.failure { throw SearchRunError("\(failure)") }
            throw SearchRunError("the batch loader stopped early at epoch \(epoch) step \(index)")
          }
          let result = try directory.stoppingOnNonFinite(at: "epoch \(epoch) step \(index)") {
            let result = try optimization.step(
              network: network, train: LabelledBatch(images: train.images, labels: train.labels),
              valid: LabelledBatch(images: valid.images, labels: valid.labels), updateArchitecture: updateArchitecture)
            try NonFiniteError.check(checkpointTensors(), after: "the step")
            return result
          }
          var fields: [String: JSONValue] = [:]
          if let a = result.architectureLoss { fields["architecture_loss"] = .double(Double(a)) }
          return StepReport(loss: Double(result.loss), correct: result.correct, count: train.labels.count, fields: fields)
        },
        evaluate: {
          genotype = GenotypeDerivation.genotype(of: network)
          var summary = EpochSummary(fields: ["genotype": .string(genotype.description), "architecture": architectureJSON()])
          if settings.validates(epoch: epoch) {
            let validation = try directory.stoppingOnNonFinite(at: "epoch \(epoch) evaluation") { try evaluateArchitectureSplit() }
            summary.fields["valid_loss"] = .double(validation.loss)
            summary.fields["valid_accuracy"] = .double(validation.accuracy)
            summary.text = String(format: "  valid loss %.4f acc %.4f", validation.loss, validation.accuracy)
          }
          return summary
        },
        checkpoint: { cursor in
          state.cursor = cursor
          try saveCheckpoint()
        })
      state.cursor = cursor
      journal.say("genotype: \(genotype)")
      try saveCheckpoint()
    }
  }

  // MARK: P-DARTS stages

  /// The softmax of an α parameter as rows (`[edge][k]`).
  private static func softmaxRows(_ parameter: Parameter) -> [[Float]] {
    let w = withoutGradients { parameter.value.softmax(alongAxis: -1) }
    let columns = w.shape[1]
    let values = w.scalars
    return (0..<w.shape[0]).map { Array(values[($0 * columns)..<(($0 + 1) * columns)]) }
  }

  /// Records the running stage (its operations and final α) as finished, once.
  private func recordStage() {
    guard var progressive = state.progressive, progressive.finished.count == progressive.stage else { return }
    progressive.finished.append(FinishedStage(
      layers: network.configuration.layers, channels: network.configuration.channels,
      normalOperations: progressive.normalOperations, reduceOperations: progressive.reduceOperations,
      alphasNormal: network.alphasNormal.value.scalars, alphasReduce: network.alphasReduce.value.scalars))
    state.progressive = progressive
  }

  /// Ends a P-DARTS stage (SPEC §4.2, §4.4): drops operations by the stage's α, then builds the
  /// next stage's network, α and optimisers afresh and checkpoints.
  private func advanceStage() throws {
    guard let stages = settings.progressive, state.progressive != nil else { return }
    recordStage()
    var progressive = state.progressive!
    let kept = stages.operationsKept[progressive.stage]
    let count = progressive.normalOperations[0].count - kept
    progressive.normalOperations = ProgressiveRules.drop(count, from: progressive.normalOperations, weights: Self.softmaxRows(network.alphasNormal), lastStage: false)
    progressive.reduceOperations = ProgressiveRules.drop(count, from: progressive.reduceOperations, weights: Self.softmaxRows(network.alphasReduce), lastStage: false)
    progressive.stage += 1
    state.progressive = progressive
    network = Self.makeNetwork(settings, inputChannels: inputChannels, classes: classes, progressive: progressive, backend: backend)
    optimization = Self.makeOptimization(settings)
    try journal.log([
      "type": "stage_start", "stage": .int(progressive.stage), "layers": .int(network.configuration.layers),
      "channels": .int(network.configuration.channels), "normal_operations": Self.names(progressive.normalOperations),
      "reduce_operations": Self.names(progressive.reduceOperations),
    ])
    journal.say("stage \(progressive.stage + 1)/\(settings.stageCount): \(network.configuration.layers) cells, \(kept) operations per edge")
    try saveCheckpoint()
  }

  /// The end of a P-DARTS search (SPEC §4.5–4.6): one operation per edge, two edges per node,
  /// then the skip-connect cap of the normal cell. Every cap level that changed the cell is
  /// logged and printed; `genotype.json` receives the capped cell.
  private func finishProgressive() throws -> Genotype {
    recordStage()
    let configuration = network.configuration
    let topology = configuration.topology
    let normalProbabilities = ProgressiveRules.finalProbabilities(operations: configuration.normalOperations, weights: Self.softmaxRows(network.alphasNormal))
    let reduceProbabilities = ProgressiveRules.finalProbabilities(operations: configuration.reduceOperations, weights: Self.softmaxRows(network.alphasReduce))
    let concat = Array(2..<(2 + topology.steps))
    func genotype(normal: [Genotype.Edge]) -> Genotype {
      let reduce = ProgressiveRules.selectEdges(operations: configuration.reduceOperations, probabilities: reduceProbabilities, topology: topology)
      return Genotype(normal: normal, normalConcat: concat, reduce: ProgressiveRules.cell(reduce, topology: topology), reduceConcat: concat)
    }
    let uncapped = genotype(normal: ProgressiveRules.cell(
      ProgressiveRules.selectEdges(operations: configuration.normalOperations, probabilities: normalProbabilities, topology: topology), topology: topology))
    let levels = ProgressiveRules.capSkips(
      operations: configuration.normalOperations, probabilities: normalProbabilities, topology: topology, limit: settings.progressive?.maxSkip ?? 2)
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
    try directory.write(final, to: .genotype)
    guard case .object(var architecture) = architectureJSON() else { return final }
    architecture["uncapped_genotype"] = .string(uncapped.description)
    architecture["skip_cap_levels"] = .array(levelsJSON)
    try directory.write(JSONValue.object(architecture), to: .architecture)
    return final
  }

  /// Operation names per edge, for events and `architecture.json`.
  private static func names(_ operations: [[Primitive]]) -> JSONValue {
    .array(operations.map { .array($0.map { .string($0.name) }) })
  }

  /// Loss and accuracy over the whole architecture split in evaluation mode (running BN
  /// statistics), as the reference reports each epoch.
  /// - Throws: ``NonFiniteError`` if the loss is not finite.
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
    try NonFiniteError.check(lossSum, "the architecture-split loss")
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
    object["normal_operations"] = Self.names(configuration.normalOperations)
    object["reduce_operations"] = Self.names(configuration.reduceOperations)
    if let progressive = state.progressive {
      object["stage"] = .int(progressive.stage)
      object["stages"] = .array(progressive.finished.map { finished in
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
          "normal_operations": Self.names(finished.normalOperations), "reduce_operations": Self.names(finished.reduceOperations),
          "alphas_normal": alphas(finished.alphasNormal, finished.normalOperations),
          "alphas_reduce": alphas(finished.alphasReduce, finished.reduceOperations),
        ])
      })
    }
    return .object(object)
  }

  private static let momentumPrefix = "optimizer.weights.momentum_buffer."
  private static let firstMomentPrefix = "optimizer.architecture.exp_avg."
  private static let secondMomentPrefix = "optimizer.architecture.exp_avg_sq."

  /// Every tensor of the run: weights, BN buffers, α/β and both optimisers' moments.
  private func checkpointTensors() -> [String: Tensor] {
    var tensors = network.stateDict()
    for (name, t) in optimization.weights.momentumBuffers { tensors[Self.momentumPrefix + name] = t }
    for (name, t) in optimization.architecture.firstMoments { tensors[Self.firstMomentPrefix + name] = t }
    for (name, t) in optimization.architecture.secondMoments { tensors[Self.secondMomentPrefix + name] = t }
    return tensors
  }

  private func saveCheckpoint() throws {
    state.architectureSteps = optimization.architecture.steps
    state.nextEvent = journal.nextEvent
    try Checkpoint(tensors: checkpointTensors(), state: state).save(to: directory.checkpointURL)
  }

  private func restore(_ checkpoint: Checkpoint<CheckpointState>) throws {
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
    let shapes = Dictionary(uniqueKeysWithValues: network.namedParameters().map { ($0.name, $0.parameter.value.shape) })
    if let problem = optimizerStateProblem(momentum, shapes: shapes, what: "momentum buffer")
      ?? optimizerStateProblem(first, shapes: shapes, what: "Adam first moment")
      ?? optimizerStateProblem(second, shapes: shapes, what: "Adam second moment") {
      throw SearchRunError("\(directory.checkpointURL.path): \(problem)")
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
