import DataParallel
import Datasets
import NN
import SearchSpace
import TensorCore

/// Every setting of a search run (written to `config.json`, so a run can be repeated). The
/// defaults are the DARTS reference (`cnn/train_search.py`, SPEC §2.2).
public struct SearchSettings: Codable, Sendable, Equatable {
  /// The search method (its strategy's name in `config.json`).
  public var method: Method = .darts
  /// Architecture gradient order (1: DARTS-V1, 2: DARTS-V2).
  public var order: Int = 1
  public var dataset: DatasetKind = .cifar10
  /// The dataset directory (nil: the dataset's default location).
  public var dataDirectory: String?
  /// Use only the first `limit` training images (nil: all).
  public var limit: Int?
  /// Fraction of the (limited) training set that trains the weights; the rest trains α.
  public var trainPortion: Double = 0.5
  public var batchSize: Int = 64
  public var epochs: Int = 50
  public var learningRate: Double = 0.025
  public var learningRateMin: Double = 0.001
  public var momentum: Double = 0.9
  public var weightDecay: Double = 3e-4
  public var gradientClip: Double = 5
  public var architectureLearningRate: Double = 3e-4
  public var architectureWeightDecay: Double = 1e-3
  /// Epochs at the start during which α is frozen (PC-DARTS: 15).
  public var architectureWarmupEpochs: Int = 0
  public var channels: Int = 16
  public var layers: Int = 8
  public var nodes: Int = 4
  /// The candidate operations of each edge (`--space`; default: the 8 of DARTS).
  public var space: OperationSpace = .darts
  /// β-DARTS (`--regularizer beta`): λ(epoch)·L_β(α) added to the loss of every α step (nil:
  /// no term).
  public var betaRegularization: BetaRegularization?
  /// SDARTS (`--perturb random|adversarial`): perturbed, projected operation probabilities
  /// as the mixing weights of every weight step (nil: `softmax(α)`, plain DARTS).
  public var perturbation: MixingWeightPerturbation?
  /// RobustDARTS' curvature monitor (`--hessian-every N`): the dominant eigenvalue of the α
  /// Hessian of the validation loss every N epochs (nil: off).
  public var hessian: HessianMonitor?
  /// DARTS-ES (`--early-stop eigenvalue`) or, with its `adaptive` schedule, DARTS-ADA
  /// (`--adaptive-regularization`): the reaction to a rising eigenvalue (nil: none; needs
  /// ``hessian``).
  public var earlyStop: EigenvalueEarlyStop?
  /// DARTS- (`--auxiliary-skip`): a skip of weight β(e) outside the softmax on every edge
  /// (nil: none; absent from older `config.json` files, which still decode).
  public var auxiliarySkip: AuxiliarySkip?
  /// PC-DARTS partial channels K (1: off).
  public var partialChannels: Int = 1
  /// PC-DARTS edge normalisation.
  public var edgeNormalization: Bool = false
  /// Training augmentation of both splits (SPEC §2.1, §8.2).
  public var cropPadding: Int = 4
  public var flip: Bool = true
  public var seed: UInt64 = 2
  public var threads: Int = 2
  /// Cap on the steps of an epoch (smoke runs); nil: whole epochs.
  public var maxStepsPerEpoch: Int?
  /// Also checkpoint every N steps (nil: at epoch ends only).
  public var checkpointEvery: Int?
  /// Micro-batches each batch is cut into, spread over the processes of the job (each
  /// computes `microBatches / processes` of them and the gradients are averaged; BatchNorm
  /// normalises each micro-batch alone). nil: one per process, fixed when the run starts.
  public var microBatches: Int?
  /// Epochs of linear learning-rate warm-up: epoch `e < W` uses `learningRate·(e+1)/W` instead
  /// of the cosine value, only when `batchSize > 256`, as PC-DARTS `train_search_imagenet.py`
  /// does (SPEC §5.5). 0: none.
  public var learningRateWarmupEpochs: Int = 0
  /// Global-norm clip of the α/β gradients (nil: the method's default, 5 for P-DARTS, none
  /// otherwise; the ImageNet setting: 5).
  public var architectureGradientClip: Double?
  /// The network's input layers (`.imageNet`: the three-convolution stride-2 stem).
  public var stem: SearchNetworkConfiguration.Stem = .cifar
  /// Image folders: side of the square training crops (RandomResizedCrop) and evaluation crops.
  public var imageSize: Int = 224
  /// Image folders: fraction of each class that trains the weights (SPEC §5.5: 10 %).
  public var weightFraction: Double = 0.1
  /// Image folders: fraction of each class that trains the architecture (SPEC §5.5: 2.5 %).
  public var architectureFraction: Double = 0.025
  /// The stages of P-DARTS (nil for DARTS and PC-DARTS); `epochs` and
  /// `architectureWarmupEpochs` then count per stage.
  public var progressive: ProgressiveSettings?
  /// Evaluate the architecture split only in the last N epochs (P-DARTS: of each stage); nil:
  /// after every epoch. The references: DARTS every epoch, PC-DARTS the last (SPEC §5.4), its
  /// ImageNet search from epoch 47 of 50 (§5.5), P-DARTS the last 5 of a stage (§4.4).
  public var validationEpochs: Int?
  /// An architecture selection to run over the finished search in the same process
  /// (`--select pt`: DARTS-PT into `selection-pt/`); nil: none (older `config.json` files).
  public var selection: SelectionSettings?

  public init() {}

  /// The reference settings of a method, as its strategy sets them: DARTS
  /// `cnn/train_search.py` (SPEC §2.2, these defaults), PC-DARTS and P-DARTS their
  /// `train_search.py` (SPEC §5.4, §4.7).
  public static func reference(for method: Method) -> SearchSettings {
    var s = SearchSettings()
    s.method = method
    method.strategy.reference(&s)
    return s
  }

  /// The weight learning rate of epoch `epoch`: the cosine schedule (SPEC §2.7), replaced by
  /// the linear warm-up `learningRate·(e+1)/W` in the first `learningRateWarmupEpochs` epochs
  /// when `batchSize > 256` (SPEC §5.5).
  public func learningRate(epoch: Int) -> Double {
    if epoch < learningRateWarmupEpochs && batchSize > 256 {
      return learningRate * Double(epoch + 1) / Double(learningRateWarmupEpochs)
    }
    return CosineAnnealing(initial: learningRate, minimum: learningRateMin, epochs: epochs).learningRate(epoch: epoch)
  }

  /// The settings of `darts search` with no arguments: a short real search on the demo data
  /// shipped with the package (the first 4,000 Fashion-MNIST training images: 2,000 train the
  /// weights, 2,000 the architecture), C = 8, 5 cells, batch 32, 12 epochs of which 4 train the
  /// weights only; about seven minutes on two cores (AMD Zen 5).
  public static func demo(for method: Method = .darts) -> SearchSettings {
    var s = SearchSettings.reference(for: method)
    s.dataset = .demo
    s.batchSize = 32
    s.epochs = 12
    // Weights-only warm-up (as PC-DARTS and P-DARTS do) so untrained convolutions do not lose
    // to parameter-free operations in the first steps; a faster α for a 12-epoch search.
    s.architectureWarmupEpochs = 4
    s.architectureLearningRate = 3e-3
    s.channels = 8
    s.layers = 5
    s.learningRate = 0.05
    s.cropPadding = 2
    s.validationEpochs = nil  // a short run: show the α-split accuracy after every epoch
    method.strategy.demo(&s)  // PC-DARTS: batch 64; P-DARTS: three short stages
    return s
  }

  /// The supernet these settings describe (P-DARTS: of stage 0, with every operation of the
  /// space). Valid settings only (S1 needs 14 edges).
  public func networkConfiguration(inputChannels: Int, classes: Int) -> SearchNetworkConfiguration {
    var configuration = SearchNetworkConfiguration(
      channels: channels, layers: layers, steps: nodes, classes: classes, inputChannels: inputChannels,
      partialChannels: partialChannels, edgeNormalization: edgeNormalization, auxiliarySkip: auxiliarySkip != nil, stem: stem)
    let edges = configuration.topology.edgeCount
    guard let normal = space.operations(edges: edges, reduction: false), let reduce = space.operations(edges: edges, reduction: true) else {
      preconditionFailure("--space \(space.rawValue) has no table for \(edges) edges (validation rejects it)")
    }
    configuration.normalOperations = normal
    configuration.reduceOperations = reduce
    return configuration
  }

  /// Whether epoch `epoch` (counted within its stage) ends with an evaluation of the
  /// architecture split.
  public func validates(epoch: Int) -> Bool {
    epoch >= epochs - (validationEpochs ?? epochs)
  }

  /// Number of stages, as the method's strategy runs them (1 except for P-DARTS).
  public var stageCount: Int { strategy.stageCount }

  /// A one-line reason these settings cannot run, or nil.
  public func validationProblem() -> String? {
    if let problem = realValueProblem() { return problem }
    if let problem = NetworkLimits.problem(channels: channels, layers: layers, minimumLayers: 3) { return problem }
    if !(2...Genotype.maximumNodes).contains(nodes) { return "--nodes must be in 2...\(Genotype.maximumNodes), got \(nodes)" }
    if let problem = CPUBackend.threadCountProblem(threads) { return problem }
    if order != 1 && order != 2 { return "--order must be 1 or 2" }
    if let edges = space.edgeCount, edges != CellTopology(steps: nodes).edgeCount {
      return "--space \(space.rawValue) is defined for cells of 4 nodes (\(edges) edges), not --nodes \(nodes)"
    }
    if let problem = betaRegularization?.settingsProblem(order: order) { return problem }
    if let problem = perturbation?.settingsProblem() { return problem }
    if let problem = auxiliarySkip?.settingsProblem(partialChannels: partialChannels) { return problem }
    if let selection, let problem = selection.validationProblem() ?? SelectionSettings.searchProblem(self) { return problem }
    if let problem = method.strategy.settingsProblem(self) { return problem }
    if let problem = curvatureProblem() { return problem }
    if batchSize < 1 { return "--batch-size must be positive" }
    if epochs < 1 { return "--epochs must be positive" }
    if let n = validationEpochs, n < 0 { return "--validate-epochs must be at least 0" }
    if !(0 < trainPortion && trainPortion < 1) { return "--train-portion must be between 0 and 1" }
    if partialChannels < 1 || channels % partialChannels != 0 { return "--partial-channels \(partialChannels) must divide --init-channels \(channels)" }
    if let l = limit, l < 1 { return "--limit must be positive" }
    if !(0...256).contains(cropPadding) { return "--crop-padding must be in 0...256" }
    if let m = maxStepsPerEpoch, m < 1 { return "--max-steps-per-epoch must be positive" }
    if let c = checkpointEvery, c < 1 { return "--checkpoint-every must be positive" }
    if let problem = BatchParallelism.problem(batchSize: batchSize, microBatches: microBatches, processes: 1) { return problem }
    if learningRate <= 0 || architectureLearningRate <= 0 { return "learning rates must be positive" }
    if learningRateWarmupEpochs < 0 { return "--warmup-epochs must not be negative" }
    if let c = architectureGradientClip, c <= 0 { return "--arch-grad-clip must be positive" }
    if dataset == .imageFolder {
      if dataDirectory == nil { return "--dataset image-folder needs --data DIR (DIR/<class>/<image> or DIR/train/<class>/<image>)" }
      if limit != nil { return "--limit does not apply to image folders (use --weight-fraction and --arch-fraction)" }
      if !(16...NetworkLimits.maximumInputSize).contains(imageSize) { return "--image-size must be in 16...\(NetworkLimits.maximumInputSize)" }
      // Every FactorizedReduce (after the stem and at both reductions) needs an even input.
      let multiple = stem == .imageNet ? 32 : 4
      if imageSize % multiple != 0 {
        return "--image-size \(imageSize) must be a multiple of \(multiple) for this network (its reductions halve even sizes only)"
      }
      if !(weightFraction > 0 && architectureFraction > 0 && weightFraction + architectureFraction <= 1) {
        return "--weight-fraction and --arch-fraction must be positive with a sum of at most 1"
      }
    }
    return nil
  }
}

extension SearchSettings {
  /// Why a real-valued setting is unusable, or nil: every one must be finite (a NaN passes
  /// any comparison written as a rejection, and `--learning-rate nan` parses), and the ones
  /// with an obvious range in it. P-DARTS skip-dropout rates are checked with the stages.
  func realValueProblem() -> String? {
    let values: [(flag: String, value: Double?)] = [
      ("--train-portion", trainPortion), ("--learning-rate", learningRate), ("--learning-rate-min", learningRateMin),
      ("--momentum", momentum), ("--weight-decay", weightDecay), ("--grad-clip", gradientClip),
      ("--arch-learning-rate", architectureLearningRate), ("--arch-weight-decay", architectureWeightDecay),
      ("--arch-grad-clip", architectureGradientClip), ("--weight-fraction", weightFraction),
      ("--arch-fraction", architectureFraction), ("--beta-lambda-max", betaRegularization?.lambdaMax),
      ("--beta-lambda-divisor", betaRegularization?.lambdaDivisor),
    ]
    if let bad = values.first(where: { !($0.value?.isFinite ?? true) }) { return "\(bad.flag) must be finite, got \(bad.value!)" }
    if learningRateMin < 0 { return "--learning-rate-min must not be negative" }
    if !(0..<1).contains(momentum) { return "--momentum must be in [0, 1)" }
    if weightDecay < 0 || architectureWeightDecay < 0 { return "--weight-decay and --arch-weight-decay must not be negative" }
    if gradientClip <= 0 { return "--grad-clip must be positive" }
    return nil
  }
}

extension SearchSettings {
  /// Why the curvature monitor and its reaction cannot run with these settings, or nil.
  func curvatureProblem() -> String? {
    if let problem = hessian?.settingsProblem() ?? earlyStop?.settingsProblem() { return problem }
    guard let earlyStop else { return nil }
    if hessian == nil { return "--early-stop eigenvalue and --adaptive-regularization need the eigenvalue monitor (--hessian-every N)" }
    if method.strategy.init(settings: self).stageCount > 1 {
      return "--early-stop and --adaptive-regularization judge one search of --epochs epochs: they are not for the stages of --method p-darts"
    }
    if let adaptive = earlyStop.adaptive, adaptive.isExhausted(weightDecay) {
      return "--adaptive-max-weight-decay \(adaptive.maximumWeightDecay) leaves DARTS-ADA nothing to raise: it must exceed --weight-decay \(weightDecay)"
    }
    return nil
  }
}
