import ArgumentParser
import Datasets
import Evaluation
import Foundation
import TensorCore

extension TrainSettings.Preset: ExpressibleByArgument {}
extension LearningRatePlan.Schedule: ExpressibleByArgument {}
extension LearningRatePlan.Warmup: ExpressibleByArgument {}
extension EvaluationNetwork.Stem: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train the network of a genotype from scratch and test it after every epoch.",
    discussion: """
      With no options, trains a small DARTS_V2 network (C=8, 5 cells) on the Fashion-MNIST \
      images shipped with the package for a few minutes. --preset darts|pdarts|pcdarts starts \
      from the CIFAR recipes of the papers (600 epochs, cutout, drop path, auxiliary head), \
      darts-imagenet|pdarts-imagenet|pcdarts-imagenet (or --imagenet) from the ImageNet recipes \
      (the ImageNet network, C = 48, L = 14, on an image folder given with --data: \
      RandomResizedCrop + flip + colour jitter, label smoothing, step or linear schedules, \
      warm-up); every option given then overrides. Image folders also train the CIFAR network \
      (--network cifar, e.g. on small images with --image-size 32). A run \
      directory receives config.json, genotype.json, events.jsonl, checkpoint.safetensors \
      (every epoch and every --checkpoint-every steps) and weights.safetensors (reference \
      names, loadable with strict=True into the PyTorch reference network); --resume DIR \
      continues a stopped run exactly.
      """)

  @Option(help: "Recipe: demo, darts, pdarts, pcdarts, darts-imagenet, pdarts-imagenet, pcdarts-imagenet (default: demo without --dataset, else darts).") var preset: TrainSettings.Preset?
  @Flag(help: "The ImageNet recipe of the preset's method (--preset pdarts --imagenet is pdarts-imagenet; alone: darts-imagenet).") var imagenet = false
  @Option(help: "A built-in genotype name (darts genotype list) or a genotype JSON file.") var genotype: String?
  @OptionGroup var options: RunOptions<TrainCommand>
  @Flag(inversion: .prefixedNo, help: "Image folders: ColorJitter(0.4, 0.4, 0.4, 0.2) on training images (default: with the ImageNet presets).") var colorJitter: Bool?
  @Option(parsing: .unconditional, help: "Test on only the first N test images.") var testLimit: Int?
  @Option(help: "Schedule: cosine, step (x gamma per epoch), linear (P-DARTS/PC-DARTS ImageNet).") var schedule: LearningRatePlan.Schedule?
  @Option(parsing: .unconditional, help: "Factor per epoch of the step schedule.") var stepGamma: Double?
  @Option(help: "Warm-up scales the schedule (P-DARTS) or the initial rate (PC-DARTS): schedule, initial.") var warmup: LearningRatePlan.Warmup?
  @Option(parsing: .unconditional, help: "Maximum drop-path probability (ramps linearly from 0 over the epochs).") var dropPath: Double?
  @Option(parsing: .unconditional, help: "Weight of the auxiliary loss (0: no auxiliary head).") var auxiliaryWeight: Double?
  @Option(parsing: .unconditional, help: "Label smoothing of the training loss.") var labelSmoothing: Double?
  @Option(parsing: .unconditional, help: "Cutout square side (0: none).") var cutout: Int?
  @Option(help: "Network: cifar (NetworkCIFAR) or imagenet (NetworkImageNet, three stride-2 stem convolutions).") var network: EvaluationNetwork.Stem?
  @Flag(name: .customLong("auxiliary-bn768"), inversion: .prefixedNo, help: "The auxiliary head's BN(768) (default: with, except the DARTS and PC-DARTS ImageNet recipes).") var auxiliaryBN768: Bool?
  @Option(help: "Start from these weights: a weights.safetensors or checkpoint of ours, or a state_dict exported from the PyTorch reference network.") var initFrom: String?

  /// The settings: the preset, then every option given.
  func settings() throws -> TrainSettings {
    var s = TrainSettings.preset(try chosenPreset())
    if let genotype {
      s.genotype = try GenotypeCommand.load(genotype)
      s.genotypeSource = genotype
    }
    if let dataset = options.dataset {
      s.dataset = dataset
      // Augmentations of the other kind of dataset do not apply (an option given still errs).
      if dataset == .imageFolder { (s.cutout, s.cropPadding) = (0, 0) } else { s.colorJitter = nil }
    }
    if let v = options.imageSize { s.imageSize = v }
    if let v = colorJitter { s.colorJitter = v ? .imageNet : nil }
    if let v = network { s.stem = v }
    if let v = auxiliaryBN768 { s.auxiliaryFeatureNorm = v }
    options.apply(to: &s)
    if let v = testLimit { s.testLimit = v }
    if let v = options.trainPortion { s.trainPortion = v }
    if let v = schedule { s.schedule = v }
    if let v = stepGamma { s.stepGamma = v }
    if let v = options.warmupEpochs { s.warmupEpochs = v }
    if let v = warmup { s.warmup = v }
    if let v = dropPath { s.dropPath = v }
    if let v = auxiliaryWeight { s.auxiliaryWeight = v }
    if let v = labelSmoothing { s.labelSmoothing = v }
    if let v = cutout { s.cutout = v }
    s.initFrom = initFrom
    return s
  }

  /// `--preset`, turned into its ImageNet recipe by `--imagenet`.
  func chosenPreset() throws -> TrainSettings.Preset {
    let chosen = preset ?? (imagenet ? .darts : options.dataset == nil ? .demo : .darts)
    guard imagenet else { return chosen }
    switch chosen {
    case .darts, .dartsImageNet: return .dartsImageNet
    case .pdarts, .pdartsImageNet: return .pdartsImageNet
    case .pcdarts, .pcdartsImageNet: return .pcdartsImageNet
    case .demo: throw ValidationError("--imagenet takes the ImageNet recipe of darts, pdarts or pcdarts, not of demo")
    }
  }

  func run() throws {
    try runningAsJob { group, say in
      let run: TrainRun
      if let resume = options.resume {
        run = try TrainRun.resume(URL(fileURLWithPath: resume), backend: options.backendOption.backend, group: group, output: consoleOutput(group))
        say("resuming \(resume)")
      } else {
        let settings = try group.together {  // the same on every process: one message, from the leader
          let chosen = try self.settings()
          if let problem = chosen.validationProblem() { throw ValidationError(problem) }
          return chosen
        }
        if group.isLeader, let warning = CPUBackend.threadCountWarning(settings.threads) { warn(warning) }
        let name = settings.genotypeSource.hasSuffix(".json") ? "genotype" : settings.genotypeSource
        let directory = options.runDir ?? "runs/train-\(name)-\(timestamp())"
        run = try TrainRun.start(settings, in: URL(fileURLWithPath: directory), backend: options.backendOption.backend, group: group, output: consoleOutput(group))
        say("run directory: \(directory)")
        say(String(format: "param size = %.6fMB", Double(run.network.referenceParameterCount) / 1e6))
      }
      if group.isDistributed { say(jobDescription(group, microBatches: run.parallelism.shard.chunkCount, batchSize: run.settings.batchSize)) }
      let test = try run.run()
      say(String(format: "test: loss %.4f  top-1 %.2f%%  top-5 %.2f%%  (%d images)", test.loss, 100 * test.top1, 100 * test.top5, test.count))
      say("written: \(run.directory.weightsURL.path)")
    }
  }
}

extension TrainCommand: RunOptionsHelp {
  static let dataHelp = "Dataset directory (default: the dataset's usual location; image folders: DIR/train and DIR/val or DIR/test, one sub-folder per class)."
  static let trainPortionHelp = "Train on this fraction of the training images and report the rest as a validation split."
  static let batchSizeHelp = "Batch size."
  static let epochsHelp = "Epochs."
  static let learningRateHelp = "Initial SGD learning rate."
  static let learningRateMinHelp = "Final learning rate of the cosine schedule."
  static let warmupEpochsHelp = "Linear warm-up epochs at the start."
  static let gradClipHelp = "Global-norm gradient clip."
  static let runDirHelp = "Run directory (default: runs/train-<genotype>-<time>)."
}
