import ArgumentParser
import Datasets
import Evaluation
import Search

/// The help lines of the shared options whose wording depends on the command (a search has two
/// splits and stages, a training run a single schedule).
protocol RunOptionsHelp {
  static var dataHelp: String { get }
  static var trainPortionHelp: String { get }
  static var batchSizeHelp: String { get }
  static var epochsHelp: String { get }
  static var learningRateHelp: String { get }
  static var learningRateMinHelp: String { get }
  static var warmupEpochsHelp: String { get }
  static var gradClipHelp: String { get }
  static var runDirHelp: String { get }
}

/// The options `darts search` and `darts train` share: the data, the SGD optimiser and its
/// schedule, the network size, the seed, threads and backend, the checkpoint cadence, the run
/// directory and resuming. Each command applies them to its settings (``apply(to:)``) and reads the few
/// whose setting differs (image size, train portion, warm-up) itself.
struct RunOptions<Help: RunOptionsHelp>: ParsableArguments {
  @Option(help: "Dataset: demo, cifar10, cifar100, mnist, fashion-mnist, image-folder.") var dataset: DatasetKind?
  @Option(help: ArgumentHelp(Help.dataHelp)) var data: String?
  @Option(parsing: .unconditional, help: "Image folders: side of the square crops (default 224).") var imageSize: Int?
  @Option(parsing: .unconditional, help: "Use only the first N training images.") var limit: Int?
  @Option(parsing: .unconditional, help: ArgumentHelp(Help.trainPortionHelp)) var trainPortion: Double?
  @Option(parsing: .unconditional, help: ArgumentHelp(Help.batchSizeHelp)) var batchSize: Int?
  @Option(parsing: .unconditional, help: ArgumentHelp(Help.epochsHelp)) var epochs: Int?
  @Option(parsing: .unconditional, help: ArgumentHelp(Help.learningRateHelp)) var learningRate: Double?
  @Option(parsing: .unconditional, help: ArgumentHelp(Help.learningRateMinHelp)) var learningRateMin: Double?
  @Option(parsing: .unconditional, help: ArgumentHelp(Help.warmupEpochsHelp)) var warmupEpochs: Int?
  @Option(parsing: .unconditional, help: "SGD momentum.") var momentum: Double?
  @Option(parsing: .unconditional, help: "SGD weight decay.") var weightDecay: Double?
  @Option(parsing: .unconditional, help: ArgumentHelp(Help.gradClipHelp)) var gradClip: Double?
  @Option(parsing: .unconditional, help: "Zero padding of the random crop.") var cropPadding: Int?
  @Flag(inversion: .prefixedNo, help: "Random horizontal flips.") var flip: Bool?
  @Option(parsing: .unconditional, help: "Initial channels C.") var initChannels: Int?
  @Option(parsing: .unconditional, help: "Cells L.") var layers: Int?
  @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64?
  @Option(parsing: .unconditional, help: "Threads.") var threads: Int?
  @OptionGroup var backendOption: BackendOption
  @Option(parsing: .unconditional, help: "Stop each epoch after N steps (smoke runs).") var maxStepsPerEpoch: Int?
  @Option(parsing: .unconditional, help: "Also checkpoint every N steps.") var checkpointEvery: Int?
  @Option(parsing: .unconditional, help: "Cut every batch into K micro-batches whose gradients are averaged (gradient accumulation; BatchNorm normalises each alone). Under mpirun the processes share them (default: one per process; K must be a multiple of the process count).") var microBatches: Int?
  @Option(help: ArgumentHelp(Help.runDirHelp)) var runDir: String?
  @Option(help: "Continue the run in this directory from its last checkpoint.") var resume: String?

  /// Sets every field of `settings` that an option given names (and the data directory, given
  /// or not). The dataset, image size, train portion and warm-up are the command's to apply.
  func apply<Settings: RunSettings>(to settings: inout Settings) {
    settings.dataDirectory = data
    if let v = limit { settings.limit = v }
    if let v = batchSize { settings.batchSize = v }
    if let v = epochs { settings.epochs = v }
    if let v = learningRate { settings.learningRate = v }
    if let v = learningRateMin { settings.learningRateMin = v }
    if let v = momentum { settings.momentum = v }
    if let v = weightDecay { settings.weightDecay = v }
    if let v = gradClip { settings.gradientClip = v }
    if let v = cropPadding { settings.cropPadding = v }
    if let v = flip { settings.flip = v }
    if let v = initChannels { settings.channels = v }
    if let v = layers { settings.layers = v }
    if let v = seed { settings.seed = v }
    if let v = threads { settings.threads = v }
    if let v = maxStepsPerEpoch { settings.maxStepsPerEpoch = v }
    if let v = checkpointEvery { settings.checkpointEvery = v }
    if let v = microBatches { settings.microBatches = v }
  }
}

/// The settings fields ``RunOptions`` sets, common to search and training settings.
protocol RunSettings {
  var microBatches: Int? { get set }
  var dataDirectory: String? { get set }
  var limit: Int? { get set }
  var batchSize: Int { get set }
  var epochs: Int { get set }
  var learningRate: Double { get set }
  var learningRateMin: Double { get set }
  var momentum: Double { get set }
  var weightDecay: Double { get set }
  var gradientClip: Double { get set }
  var cropPadding: Int { get set }
  var flip: Bool { get set }
  var channels: Int { get set }
  var layers: Int { get set }
  var seed: UInt64 { get set }
  var threads: Int { get set }
  var maxStepsPerEpoch: Int? { get set }
  var checkpointEvery: Int? { get set }
}

extension SearchSettings: RunSettings {}
extension TrainSettings: RunSettings {}
