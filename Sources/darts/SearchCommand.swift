import ArgumentParser
import Datasets
import Foundation
import Search
import SearchSpace
import TensorCore

extension DatasetKind: ExpressibleByArgument {}
extension SearchSettings.Method: ExpressibleByArgument {}

struct SearchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "search",
    abstract: "Search a cell with \(SearchSettings.Method.allCases.map(\.displayName).listed()).",
    discussion: """
      With no options, runs a short real search on the Fashion-MNIST images shipped with the \
      package (about seven minutes on two cores; P-DARTS: three stages of 3, 5 and 7 cells, \
      4 epochs each). With --dataset, starts from the reference \
      settings of the method (DARTS: cnn/train_search.py; PC-DARTS and P-DARTS: their \
      train_search.py) and applies the options given. \
      P-DARTS searches in stages (cells --layers, then plus each --add-layers; 8, 5, 3 \
      operations per edge); --epochs and --arch-warmup-epochs count per stage; the final \
      normal cell keeps at most --max-skip skip-connects (every cap level is printed and \
      logged; genotype.json is the capped cell). \
      --method pc-darts --imagenet starts from the PC-DARTS ImageNet \
      search (train_search_imagenet.py: K = 2, three-convolution stride-2 stem, 50 epochs with \
      α/β frozen for 35, batch 1024, SGD 0.5 cosine with 5 warm-up epochs, Adam 6e-3, α/β \
      gradients clipped to 5) on --dataset image-folder --data DIR, where DIR (or DIR/train) \
      holds one sub-folder of JPEG/PNG images per class, split per class into 10 % for the \
      weights and 2.5 % for the architecture. \
      --space picks the operations of every edge: darts (the 8 of DARTS), darts-no-none (7, as \
      SDARTS, DARTS-PT and β-DARTS search), or RobustDARTS' s1 (a fixed pair per edge), s2 \
      (skip, sep_conv_3x3), s3 (none, skip, sep_conv_3x3), s4 (noise, sep_conv_3x3). \
      --regularizer beta (β-DARTS, first order) adds λ(e)·L_β(α), the mean row-wise \
      log-sum-exp of α, to every α step, with λ(e) = --beta-lambda-max · e / \
      --beta-lambda-divisor (default 50·e/100). \
      --perturb random (SDARTS-RS) or adversarial (SDARTS-ADV, a 7-step PGD attack in eval \
      mode, kept only when it raises the loss) mixes the operations of every weight step by \
      perturbed softmax(α) rows projected back onto the simplex, within ±ε(e) = \
      --perturb-epsilon-start + (--perturb-epsilon − start) · e / epochs (default 0.03 to \
      0.3); the α step is unchanged. \
      --auxiliary-skip (DARTS-) adds β(e)·skip(x) outside the softmax on every edge (a \
      FactorizedReduce with its own 1×1 convolutions on stride-2 edges), in the weight and the \
      α steps, dropped at derivation; β(e) decays from --auxiliary-skip-beta (default 1) over the \
      epochs by --auxiliary-skip-decay: linear β₀(T − e)/T (default), cosine \
      β₀(1 + cos(πe/T))/2, slow-cosine β₀cos(πe/2T) or constant; whole edges only \
      (--partial-channels 1). Every epoch reports, per cell type, the \
      skip-connects and parameter-free operations of the current genotype and the mean α \
      entropy (events.jsonl and the progress line: skip, free, H). \
      --hessian-every N adds the dominant eigenvalue λmax of the Hessian of the validation \
      loss with respect to α (RobustDARTS; on the epoch's last α batch, by power iteration on \
      finite-difference Hessian-vector products) after epochs 0, N, 2N, … and the last. \
      --early-stop eigenvalue (DARTS-ES) stops the search when the local average of λmax \
      (--early-stop-window values) exceeds --early-stop-factor times the average \
      --early-stop-delta averages earlier, and returns the genotype of the earlier average's \
      epoch; --adaptive-regularization (DARTS-ADA) instead rolls the run back to that epoch \
      (snapshots/ keeps the candidates) and multiplies the weight decay by --adaptive-factor, \
      up to --adaptive-max-weight-decay. Both monitor every 2 epochs unless --hessian-every \
      says otherwise. \
      --select pt runs DARTS-PT's perturbation-based selection (see darts select --help) over \
      the finished search in the same process, into RUN_DIR/selection-pt/ (one process only; \
      it costs about as much as the search again); a resumed search continues it. \
      A run directory receives config.json, events.jsonl, checkpoint.safetensors (every epoch \
      and every --checkpoint-every steps), genotype.json and architecture.json; --resume DIR \
      continues a stopped run exactly where its last checkpoint left it.
      """)

  @Option(help: "Search method: \(SearchSettings.Method.allCases.map(\.rawValue).listed()).") var method: SearchSettings.Method = .darts
  @Option(parsing: .unconditional, help: "Architecture gradient order: 1 or 2 (DARTS; P-DARTS is first order only).") var order: Int?
  @Flag(help: "The PC-DARTS ImageNet search setting (with --method pc-darts; default dataset image-folder).") var imagenet = false
  @OptionGroup var options: RunOptions<SearchCommand>
  @Option(parsing: .unconditional, help: "Image folders: fraction of each class that trains the weights (default 0.1).") var weightFraction: Double?
  @Option(parsing: .unconditional, help: "Image folders: fraction of each class that trains the architecture (default 0.025).") var archFraction: Double?
  @Option(parsing: .unconditional, help: "Adam learning rate of the architecture parameters.") var archLearningRate: Double?
  @Option(parsing: .unconditional, help: "Adam weight decay of the architecture parameters.") var archWeightDecay: Double?
  @Option(parsing: .unconditional, help: "Global-norm clip of the architecture gradients.") var archGradClip: Double?
  @Option(parsing: .unconditional, help: "Epochs before the architecture starts to learn (P-DARTS: in each stage).") var archWarmupEpochs: Int?
  @Option(parsing: .unconditional, help: "Intermediate nodes per cell.") var nodes: Int?
  // A string checked in validate(), so that a wrong name is one error line (ArgumentParser lists
  // six choices over several lines).
  @Option(help: "Operations of every edge: \(Self.spaceNames) (default darts).") var space: String?
  @Option(help: "A term added to the architecture loss: none or beta (β-DARTS; first order only).") var regularizer: Regularizer?
  @Option(parsing: .unconditional, help: "β-DARTS: λ(epoch) = max · epoch / divisor; the max (default 50).") var betaLambdaMax: Double?
  @Option(parsing: .unconditional, help: "β-DARTS: the divisor of λ(epoch) (default 100).") var betaLambdaDivisor: Double?
  @Option(help: "Perturbed mixing weights of the weight step: none, random (SDARTS-RS) or adversarial (SDARTS-ADV).") var perturb: String?
  @Option(parsing: .unconditional, help: "SDARTS: the ε that the linear schedule heads for at the last epoch + 1 (default 0.3).") var perturbEpsilon: Double?
  @Option(parsing: .unconditional, help: "SDARTS: ε at epoch 0 (default 0.03).") var perturbEpsilonStart: Double?
  @Option(parsing: .unconditional, help: "Measure the dominant eigenvalue of the α Hessian every N epochs (RobustDARTS; default off).") var hessianEvery: Int?
  @Option(help: "React to a rising Hessian eigenvalue by stopping: none or eigenvalue (DARTS-ES).") var earlyStop: String?
  @Option(parsing: .unconditional, help: "DARTS-ES/ADA: eigenvalues per local average (default 5).") var earlyStopWindow: Int?
  @Option(parsing: .unconditional, help: "DARTS-ES/ADA: no trigger returns to an epoch before this (0-based, default 10).") var earlyStopStart: Int?
  @Option(parsing: .unconditional, help: "DARTS-ES/ADA: local averages between the two compared (default 4).") var earlyStopDelta: Int?
  @Option(parsing: .unconditional, help: "DARTS-ES/ADA: the ratio of the averages that triggers (default 1.3).") var earlyStopFactor: Double?
  @Flag(help: "DARTS-ADA: on a rising eigenvalue, roll back and raise the weight decay instead of stopping.") var adaptiveRegularization = false
  @Option(parsing: .unconditional, help: "DARTS-ADA: the weight decay's factor at each roll-back (default 3).") var adaptiveFactor: Double?
  @Option(parsing: .unconditional, help: "DARTS-ADA: the largest weight decay (default 0.0243).") var adaptiveMaxWeightDecay: Double?
  @Flag(help: "DARTS-: a skip of weight β(epoch) outside the softmax on every edge (FactorizedReduce on stride-2 edges).") var auxiliarySkip = false
  @Option(help: "DARTS-: how β decays: \(Self.decayNames) (default linear).") var auxiliarySkipDecay: String?
  @Option(parsing: .unconditional, help: "DARTS-: β at epoch 0 (default 1).") var auxiliarySkipBeta: Double?
  @Option(parsing: .unconditional, help: "PC-DARTS partial channels K (1: every channel goes through the operations).") var partialChannels: Int?
  @Flag(inversion: .prefixedNo, help: "PC-DARTS edge normalisation (also on plain DARTS).") var edgeNorm: Bool?
  @Option(parsing: .upToNextOption, help: "P-DARTS: cells added in stages 2 and 3 (reference: 6 12).") var addLayers: [Int] = []
  @Option(parsing: .upToNextOption, help: "P-DARTS: channels added in stages 2 and 3 (default: 0 0).") var addWidth: [Int] = []
  @Option(parsing: .upToNextOption, help: "P-DARTS: initial skip-connect dropout rate of each stage (paper CIFAR-10: 0.0 0.4 0.7; README command: 0.1 0.4 0.7; CIFAR-100: 0.1 0.2 0.3).") var skipDropout: [Double] = []
  @Option(parsing: .unconditional, help: "P-DARTS: most skip-connects in the final normal cell (M, default 2).") var maxSkip: Int?
  @Option(help: "After the search, select the architecture by: pt (DARTS-PT, into RUN_DIR/selection-pt/).") var select: SelectionSettings.Method?
  @OptionGroup var selection: SelectionOptions
  @Option(parsing: .unconditional, help: "Evaluate the architecture split only after the last N epochs (P-DARTS: of each stage; references: DARTS every epoch, PC-DARTS 1, its ImageNet search 3, P-DARTS 5).") var validateEpochs: Int?

  /// The settings: the base of the dataset and method, then every option given.
  func settings() -> SearchSettings {
    var s: SearchSettings =
      imagenet ? .imageNet() : (options.dataset ?? .demo) == .demo ? .demo(for: method) : .reference(for: method)
    if let dataset = options.dataset { s.dataset = dataset }
    options.apply(to: &s)
    if let v = order { s.order = v }
    if let v = options.trainPortion { s.trainPortion = v }
    if let v = weightFraction { s.weightFraction = v }
    if let v = archFraction { s.architectureFraction = v }
    if let v = options.imageSize { s.imageSize = v }
    if let v = options.warmupEpochs { s.learningRateWarmupEpochs = v }
    if let v = archGradClip { s.architectureGradientClip = v }
    if let v = archLearningRate { s.architectureLearningRate = v }
    if let v = archWeightDecay { s.architectureWeightDecay = v }
    if let v = archWarmupEpochs { s.architectureWarmupEpochs = v }
    if let v = nodes { s.nodes = v }
    if let v = space.flatMap(OperationSpace.init(rawValue:)) { s.space = v }
    switch regularizer {
    case .beta?:
      let defaults = BetaRegularization()
      s.betaRegularization = BetaRegularization(lambdaMax: betaLambdaMax ?? defaults.lambdaMax, lambdaDivisor: betaLambdaDivisor ?? defaults.lambdaDivisor)
    case .none?: s.betaRegularization = nil
    case nil: break
    }
    if perturb == "none" { s.perturbation = nil }
    if let kind = perturb.flatMap(MixingWeightPerturbation.Kind.init(rawValue:)) {
      let defaults = MixingWeightPerturbation(kind: kind)
      s.perturbation = MixingWeightPerturbation(
        kind: kind, epsilonStart: perturbEpsilonStart ?? defaults.epsilonStart, epsilonMax: perturbEpsilon ?? defaults.epsilonMax)
    }
    if let v = hessianEvery { s.hessian = HessianMonitor(every: v) }
    if earlyStop == "none" && !adaptiveRegularization { s.earlyStop = nil }
    if earlyStop == "eigenvalue" || adaptiveRegularization {
      let rule = EigenvalueEarlyStop()
      let ada = AdaptiveRegularization()
      s.earlyStop = EigenvalueEarlyStop(
        window: earlyStopWindow ?? rule.window, startEpoch: earlyStopStart ?? rule.startEpoch, delta: earlyStopDelta ?? rule.delta,
        factor: earlyStopFactor ?? rule.factor,
        adaptive: adaptiveRegularization ? AdaptiveRegularization(factor: adaptiveFactor ?? ada.factor, maximumWeightDecay: adaptiveMaxWeightDecay ?? ada.maximumWeightDecay) : nil)
      if s.hessian == nil { s.hessian = HessianMonitor() }  // RobustDARTS: every 2 epochs
    }
    if auxiliarySkip {
      let defaults = AuxiliarySkip()
      s.auxiliarySkip = AuxiliarySkip(
        decay: auxiliarySkipDecay.flatMap(AuxiliarySkip.Decay.init(rawValue:)) ?? defaults.decay, initial: auxiliarySkipBeta ?? defaults.initial)
    }
    if let v = partialChannels { s.partialChannels = v }
    if let v = edgeNorm { s.edgeNormalization = v }
    if let v = validateEpochs { s.validationEpochs = v }
    if let method = select { s.selection = selection.settings(method: method) }
    if !addLayers.isEmpty || !addWidth.isEmpty || !skipDropout.isEmpty || maxSkip != nil {
      var stages = s.progressive ?? ProgressiveSettings()  // rejected by validation unless p-darts
      if !addLayers.isEmpty { stages.addLayers = addLayers }
      if !addWidth.isEmpty { stages.addWidth = addWidth }
      if !skipDropout.isEmpty { stages.skipDropout = skipDropout }
      if let v = maxSkip { stages.maxSkip = v }
      s.progressive = stages
    }
    return s
  }

  func validate() throws {
    if imagenet && method != .pcDarts { throw ValidationError("--imagenet is the PC-DARTS ImageNet setting: add --method pc-darts") }
    if let space, OperationSpace(rawValue: space) == nil { throw ValidationError("--space must be \(Self.spaceNames), got '\(space)'") }
    if (betaLambdaMax != nil || betaLambdaDivisor != nil) && regularizer != .beta {
      throw ValidationError("--beta-lambda-max and --beta-lambda-divisor apply to --regularizer beta only")
    }
    if let perturb, perturb != "none" && MixingWeightPerturbation.Kind(rawValue: perturb) == nil {
      throw ValidationError("--perturb must be none, random or adversarial, got '\(perturb)'")
    }
    if (perturbEpsilon != nil || perturbEpsilonStart != nil) && (perturb ?? "none") == "none" {
      throw ValidationError("--perturb-epsilon and --perturb-epsilon-start apply to --perturb random or adversarial only")
    }
    if let earlyStop, earlyStop != "none" && earlyStop != "eigenvalue" { throw ValidationError("--early-stop must be none or eigenvalue, got '\(earlyStop)'") }
    if earlyStop == "eigenvalue" && adaptiveRegularization {
      throw ValidationError("--early-stop eigenvalue stops the search and --adaptive-regularization rolls it back instead: choose one")
    }
    let reacts = earlyStop == "eigenvalue" || adaptiveRegularization
    if !reacts && [earlyStopWindow, earlyStopStart, earlyStopDelta].contains(where: { $0 != nil }) || !reacts && earlyStopFactor != nil {
      throw ValidationError("--early-stop-window, --early-stop-start, --early-stop-delta and --early-stop-factor apply to --early-stop eigenvalue or --adaptive-regularization only")
    }
    if !adaptiveRegularization && (adaptiveFactor != nil || adaptiveMaxWeightDecay != nil) {
      throw ValidationError("--adaptive-factor and --adaptive-max-weight-decay apply to --adaptive-regularization only")
    }
    if (auxiliarySkipDecay != nil || auxiliarySkipBeta != nil) && !auxiliarySkip {
      throw ValidationError("--auxiliary-skip-decay and --auxiliary-skip-beta apply to --auxiliary-skip only")
    }
    if let auxiliarySkipDecay, AuxiliarySkip.Decay(rawValue: auxiliarySkipDecay) == nil {
      throw ValidationError("--auxiliary-skip-decay must be \(Self.decayNames), got '\(auxiliarySkipDecay)'")
    }
    if selection.isGiven && select == nil { throw ValidationError("--decision-interval and --criterion apply to --select pt only") }
    if options.resume == nil, let problem = settings().validationProblem() { throw ValidationError(problem) }
  }

  func run() throws {
    try runningAsJob { group, say in
      if group.isDistributed && select != nil { throw SearchRunError(SelectionSettings.singleProcessProblem) }
      let run: SearchRun
      if let resume = options.resume {
        run = try SearchRun.resume(URL(fileURLWithPath: resume), backend: options.backendOption.backend, group: group, output: consoleOutput(group))
        say("resuming \(resume)")
      } else {
        let settings = settings()
        if group.isLeader, let warning = CPUBackend.threadCountWarning(settings.threads) { warn(warning) }
        let directory = options.runDir ?? "runs/search-\(settings.method.rawValue)-\(timestamp())"
        run = try SearchRun.start(settings, in: URL(fileURLWithPath: directory), backend: options.backendOption.backend, group: group, output: consoleOutput(group))
        say("run directory: \(directory)")
      }
      if group.isDistributed { say(jobDescription(group, microBatches: run.parallelism.shard.chunkCount, batchSize: run.settings.batchSize)) }
      if group.isDistributed && run.settings.selection != nil { throw SearchRunError(SelectionSettings.singleProcessProblem) }
      let genotype = try run.run()
      say("final genotype: \(genotype)")
      say("written: \(run.directory.url(of: .genotype).path)")
      if let selection = run.settings.selection {
        try runSelection(over: run, settings: selection, output: consoleOutput(group), say: say)
      }
    }
  }
}

extension SearchCommand {
  /// The names of `--space`, in prose.
  static var spaceNames: String { OperationSpace.allCases.map(\.rawValue).listed() }

  /// The names of `--auxiliary-skip-decay`, in prose.
  static var decayNames: String { AuxiliarySkip.Decay.allCases.map(\.rawValue).listed() }

  /// The choices of `--regularizer`.
  enum Regularizer: String, ExpressibleByArgument, CaseIterable {
    case none, beta
  }

}

extension SearchCommand: RunOptionsHelp {
  static let dataHelp = "Dataset directory (default: the dataset's usual location)."
  static let trainPortionHelp = "Fraction of the training images that train the weights (the rest train the architecture)."
  static let batchSizeHelp = "Batch size of both splits."
  static let epochsHelp = "Epochs (P-DARTS: per stage)."
  static let learningRateHelp = "Initial SGD learning rate (cosine-annealed per epoch)."
  static let learningRateMinHelp = "Final SGD learning rate of the cosine schedule."
  static let warmupEpochsHelp = "Epochs of linear learning-rate warm-up lr·(e+1)/N, applied only with a batch size above 256 (as the reference)."
  static let gradClipHelp = "Global-norm clip of the weight gradients."
  static let runDirHelp = "Run directory (default: runs/search-<method>-<time>)."
}

/// A sortable local time stamp for directory names.
func timestamp() -> String {
  let formatter = DateFormatter()
  formatter.dateFormat = "yyyyMMdd-HHmmss"
  return formatter.string(from: Date())
}

/// Writes one line to standard error.
func warn(_ line: String) {
  FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Runs `body`; an error becomes one line on standard error and exit status 1.
func reportingFailures(_ body: () throws -> Void) throws {
  do {
    try body()
  } catch let error as ExitCode {
    throw error
  } catch {
    warn("error: \(error)")
    throw ExitCode.failure
  }
}
