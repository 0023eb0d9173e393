import DataParallel
import Datasets
import SearchSpace
import TensorCore

/// Every setting of an evaluation training run (written to `config.json`, so a run can be
/// repeated). The presets are the reference recipes of SPEC §6.1 (CIFAR) and §6.2 (ImageNet).
public struct TrainSettings: Codable, Sendable, Equatable {
  /// The reference recipes.
  public enum Preset: String, Codable, Sendable, CaseIterable {
    /// DARTS `cnn/train.py` (SPEC §6.1).
    case darts
    /// P-DARTS `train_cifar.py`.
    case pdarts
    /// PC-DARTS `train.py`.
    case pcdarts
    /// DARTS `cnn/train_imagenet.py` (SPEC §6.2).
    case dartsImageNet = "darts-imagenet"
    /// P-DARTS `train_imagenet.py`.
    case pdartsImageNet = "pdarts-imagenet"
    /// PC-DARTS `train_imagenet.py`.
    case pcdartsImageNet = "pcdarts-imagenet"
    /// A few minutes on the demo images shipped with the package.
    case demo
  }

  /// The genotype trained, and the name or file it came from.
  public var genotype: Genotype = .dartsV2
  public var genotypeSource: String = "DARTS_V2"
  public var dataset: DatasetKind = .cifar10
  /// The dataset directory (nil: the dataset's default location).
  public var dataDirectory: String?
  /// Use only the first `limit` training images (nil: all).
  public var limit: Int?
  /// Evaluate on only the first `testLimit` test images (nil: all).
  public var testLimit: Int?
  /// If set, train on this fraction of the training set and also report the rest as a
  /// validation split each epoch.
  public var trainPortion: Double?
  public var batchSize: Int = 96
  public var epochs: Int = 600
  public var learningRate: Double = 0.025
  public var schedule: LearningRatePlan.Schedule = .cosine
  /// Cosine: the final rate; step: unused; linear: unused.
  public var learningRateMin: Double = 0
  /// Step schedule factor per epoch.
  public var stepGamma: Double = 0.97
  public var warmupEpochs: Int = 0
  public var warmup: LearningRatePlan.Warmup = .schedule
  public var momentum: Double = 0.9
  public var weightDecay: Double = 3e-4
  public var gradientClip: Double = 5
  /// Maximum drop-path probability p; epoch e uses p·e/E (SPEC §6.1).
  public var dropPath: Double = 0.2
  /// Weight of the auxiliary loss; 0 builds the network without the auxiliary head.
  public var auxiliaryWeight: Double = 0.4
  /// Label smoothing ε of the training loss (ImageNet: 0.1).
  public var labelSmoothing: Double = 0
  /// Cutout square side after normalisation (0: none).
  public var cutout: Int = 16
  public var cropPadding: Int = 4
  public var flip: Bool = true
  /// Initial channels C and cells L.
  public var channels: Int = 36
  public var layers: Int = 20
  /// The macro structure: the CIFAR network, or the ImageNet network (`NetworkImageNet`).
  public var stem: EvaluationNetwork.Stem = .cifar
  /// The auxiliary head's BN(768) (SPEC §6.2: P-DARTS ImageNet has it, DARTS and PC-DARTS
  /// ImageNet do not; the CIFAR network always has it).
  public var auxiliaryFeatureNorm: Bool = true
  /// Image folders: side of the square crops the network takes (nil: 224).
  public var imageSize: Int?
  /// Image folders: colour jitter of the training images (nil: none).
  public var colorJitter: ColorJitter?
  public var seed: UInt64 = 0
  public var threads: Int = 2
  /// Cap on the steps of an epoch (smoke runs); nil: whole epochs.
  public var maxStepsPerEpoch: Int?
  /// Also checkpoint every N steps (nil: at epoch ends only).
  public var checkpointEvery: Int?
  /// Micro-batches each batch is cut into, spread over the processes of the job (each
  /// computes `microBatches / processes` of them and the gradients are averaged; BatchNorm
  /// normalises each micro-batch alone). nil: one per process, fixed when the run starts.
  public var microBatches: Int?
  /// Start from these weights (ours or exported from the PyTorch reference).
  public var initFrom: String?

  public init() {}

  /// The recipe of `preset`: SPEC §6.1 for CIFAR (600 epochs, lr 0.025 cosine → 0, momentum
  /// 0.9, wd 3e-4, aux 0.4, cutout 16, clip 5, seed 0; batch 96/128/96, drop path 0.2/0.3/0.3,
  /// genotypes DARTS_V2 / PDARTS / PC_DARTS_cifar), SPEC §6.2 for ImageNet (250 epochs, wd 3e-5,
  /// label smoothing 0.1, aux 0.4, no drop path, C = 48, L = 14; DARTS: batch 128, lr 0.1 ×0.97
  /// per epoch; P-DARTS: batch 256, lr 0.1 linear; PC-DARTS: batch 1024, lr 0.5 linear with
  /// 5 warm-up epochs from lr₀), on an image folder with the ImageNet network (auxiliary BN(768)
  /// for P-DARTS only) and RandomResizedCrop + flip + ColorJitter(0.4, 0.4, 0.4, 0.2).
  public static func preset(_ preset: Preset) -> TrainSettings {
    var s = TrainSettings()
    switch preset {
    case .darts:
      break
    case .pdarts:
      (s.batchSize, s.dropPath, s.genotype, s.genotypeSource) = (128, 0.3, .pdarts, "PDARTS")
    case .pcdarts:
      (s.dropPath, s.genotype, s.genotypeSource) = (0.3, .pcDartsCIFAR, "PC_DARTS_cifar")
    case .dartsImageNet, .pdartsImageNet, .pcdartsImageNet:
      (s.epochs, s.weightDecay, s.labelSmoothing, s.dropPath, s.cutout, s.cropPadding, s.channels, s.layers) = (250, 3e-5, 0.1, 0, 0, 0, 48, 14)
      (s.dataset, s.stem, s.colorJitter, s.auxiliaryFeatureNorm) = (.imageFolder, .imageNet, .imageNet, preset == .pdartsImageNet)
      switch preset {
      case .dartsImageNet:
        (s.batchSize, s.learningRate, s.schedule) = (128, 0.1, .step)
      case .pdartsImageNet:
        (s.batchSize, s.learningRate, s.schedule, s.genotype, s.genotypeSource) = (256, 0.1, .linear, .pdarts, "PDARTS")
      default:
        (s.batchSize, s.learningRate, s.schedule, s.warmup) = (1024, 0.5, .linear, .initial)
        (s.genotype, s.genotypeSource) = (.pcDartsImageNet, "PC_DARTS_image")
      }
      s.warmupEpochs = s.batchSize > 256 ? 5 : 0
    case .demo:
      s.dataset = .demo
      (s.channels, s.layers, s.batchSize, s.epochs, s.learningRate) = (8, 5, 64, 6, 0.05)
      (s.cutout, s.cropPadding) = (8, 2)
    }
    return s
  }

  /// The learning rate of every epoch.
  public var learningRatePlan: LearningRatePlan {
    LearningRatePlan(
      schedule: schedule, initial: learningRate, minimum: learningRateMin, gamma: stepGamma, epochs: epochs,
      warmupEpochs: warmupEpochs, warmup: warmup)
  }

  /// The drop-path probability of epoch `e`: `p·e/E` (0 at epoch 0).
  public func dropPathProbability(epoch e: Int) -> Double { dropPath * Double(e) / Double(epochs) }

  /// Side of the network's input: `imageSize` (default 224) for image folders, else the
  /// dataset's (32 or 28).
  public var inputSize: Int { dataset == .imageFolder ? imageSize ?? dataset.imageSize : dataset.imageSize }

  /// The transform of image-folder images (SPEC §6.2): training: RandomResizedCrop(`inputSize`)
  /// + flip + `colorJitter`; evaluation: resize to `inputSize`·256/224 + centre crop.
  public func imageTransform(training: Bool) -> ImageTransform {
    guard training else { return .evaluation(size: inputSize) }
    var transform = ImageTransform.training(size: inputSize)
    transform.flipProbability = flip ? 0.5 : 0
    transform.colorJitter = colorJitter
    return transform
  }

  /// The training transform of in-memory datasets (SPEC §8.2: crop, flip, normalise, cutout).
  public var augmentation: Augmentation {
    Augmentation(padding: cropPadding, flipProbability: flip ? 0.5 : 0, cutoutLength: cutout)
  }

  /// The network these settings train on images of `channels`×`size`² in `classes` classes.
  public func network(inputChannels: Int, inputSize: Int, classes: Int) -> NetworkDescription {
    NetworkDescription(
      genotype: genotype, channels: channels, layers: layers, classes: classes, inputChannels: inputChannels,
      inputSize: inputSize, auxiliary: auxiliaryWeight > 0, stem: stem, auxiliaryFeatureNorm: auxiliaryFeatureNorm)
  }

  /// A one-line reason these settings cannot run, or nil.
  public func validationProblem() -> String? {
    if let problem = realValueProblem() { return problem }
    if let problem = genotype.validationProblem() { return "genotype \(genotypeSource): \(problem)" }
    if batchSize < 1 { return "--batch-size must be positive" }
    if epochs < 1 { return "--epochs must be positive" }
    if let p = trainPortion, !(0 < p && p < 1) { return "--train-portion must be between 0 and 1" }
    if channels < 1 || layers < 3 { return "--init-channels must be positive and --layers at least 3" }
    if learningRate <= 0 { return "--learning-rate must be positive" }
    if !(0..<1).contains(dropPath) { return "--drop-path must be in [0, 1)" }
    if auxiliaryWeight < 0 { return "--auxiliary-weight must not be negative" }
    if !(0..<1).contains(labelSmoothing) { return "--label-smoothing must be in [0, 1)" }
    if !(0...1024).contains(cutout) || !(0...256).contains(cropPadding) { return "--cutout must be in 0...1024 and --crop-padding in 0...256" }
    if warmupEpochs < 0 { return "--warmup-epochs must not be negative" }
    if let problem = CPUBackend.threadCountProblem(threads) { return problem }
    if let m = maxStepsPerEpoch, m < 1 { return "--max-steps-per-epoch must be positive" }
    if let c = checkpointEvery, c < 1 { return "--checkpoint-every must be positive" }
    if let problem = BatchParallelism.problem(batchSize: batchSize, microBatches: microBatches, processes: 1) { return problem }
    if let l = limit, l < 1 { return "--limit must be positive" }
    if let l = testLimit, l < 1 { return "--test-limit must be positive" }
    if dataset == .imageFolder {
      if dataDirectory == nil { return "--dataset image-folder needs --data DIR (DIR/train/<class>/<image> and DIR/val/<class>/<image>)" }
      if limit != nil || testLimit != nil || trainPortion != nil {
        return "--limit, --test-limit and --train-portion do not apply to image folders (they would keep only the first classes)"
      }
      if cutout > 0 || cropPadding > 0 { return "--cutout and --crop-padding do not apply to image folders (they use RandomResizedCrop)" }
      if !(16...NetworkLimits.maximumInputSize).contains(inputSize) { return "--image-size must be in 16...\(NetworkLimits.maximumInputSize)" }
    } else {
      if imageSize != nil { return "--image-size applies to image folders only (\(dataset) images are \(dataset.imageSize)×\(dataset.imageSize))" }
      if colorJitter != nil { return "--color-jitter applies to image folders only" }
    }
    if let problem = network(inputChannels: dataset.imageChannels, inputSize: inputSize, classes: 1).problem {
      return "\(problem) (\(stem == .imageNet ? "ImageNet" : "CIFAR") network, \(layers) cells)"
    }
    return nil
  }
}

extension TrainSettings {
  /// Why a real-valued setting is unusable, or nil: every one must be finite (a NaN passes
  /// any comparison written as a rejection, and `--learning-rate nan` parses), and the ones
  /// with an obvious range in it.
  func realValueProblem() -> String? {
    let values: [(flag: String, value: Double?)] = [
      ("--train-portion", trainPortion), ("--learning-rate", learningRate), ("--learning-rate-min", learningRateMin),
      ("--step-gamma", stepGamma), ("--momentum", momentum), ("--weight-decay", weightDecay), ("--grad-clip", gradientClip),
      ("--drop-path", dropPath), ("--auxiliary-weight", auxiliaryWeight), ("--label-smoothing", labelSmoothing),
      ("colorJitter.brightness", colorJitter?.brightness), ("colorJitter.contrast", colorJitter?.contrast),
      ("colorJitter.saturation", colorJitter?.saturation), ("colorJitter.hue", colorJitter?.hue),
    ]
    if let bad = values.first(where: { !($0.value?.isFinite ?? true) }) { return "\(bad.flag) must be finite, got \(bad.value!)" }
    if learningRateMin < 0 { return "--learning-rate-min must not be negative" }
    if stepGamma <= 0 { return "--step-gamma must be positive" }
    if !(0..<1).contains(momentum) { return "--momentum must be in [0, 1)" }
    if weightDecay < 0 { return "--weight-decay must not be negative" }
    if gradientClip <= 0 { return "--grad-clip must be positive" }
    if let jitter = colorJitter, min(jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) < 0 || jitter.hue > 0.5 {
      return "colorJitter strengths must not be negative and its hue must be at most 0.5"
    }
    return nil
  }
}
