import DataParallel
import NN
import TensorCore

/// The optimisers and architect of a search, and one iteration of the DARTS loop
/// (SPEC §2.3): the architecture step on an α batch first, then the weight step.
public struct SearchOptimization: Sendable {
  public var weights: SGD
  public var architecture: Adam
  public var architect: Architect
  /// Global-norm clip of the weight gradients (5 in every reference).
  public var weightGradientClip: Float
  /// Global-norm clip of the architecture gradients (P-DARTS: 5; DARTS/PC-DARTS: none).
  public var architectureGradientClip: Float?
  /// A term added to the α-step loss (β-DARTS), or nil.
  public var regularization: ArchitectureRegularization?
  /// Perturbed mixing weights of the weight step (SDARTS), or nil.
  public var perturbation: WeightStepPerturbation?
  /// DARTS-PT's decided rows, imposed on the mixing weights of every forward pass, or nil.
  public var projection: ArchitectureProjection?

  public init(
    weights: SGD, architecture: Adam, architect: Architect, weightGradientClip: Float = 5, architectureGradientClip: Float? = nil,
    regularization: ArchitectureRegularization? = nil, perturbation: WeightStepPerturbation? = nil
  ) {
    self.weights = weights
    self.architecture = architecture
    self.architect = architect
    self.weightGradientClip = weightGradientClip
    self.architectureGradientClip = architectureGradientClip
    self.regularization = regularization
    self.perturbation = perturbation
  }

  /// The outcome of one iteration.
  public struct StepResult: Sendable {
    /// Weight-step training loss and the number of correct top-1 predictions in its batch.
    public var loss: Float
    public var correct: Int
    /// Architecture-step validation loss, without any regularization term (nil when the
    /// architecture was not updated).
    public var architectureLoss: Float?
    /// SDARTS-ADV: whether the weight step used the attacked weights (nil without an attack).
    public var attackKept: Bool?
  }

  /// One iteration on `network`: (optionally) an architecture step on `valid`, then a weight
  /// step on `train`. Returns the weight-step loss.
  ///
  /// The architecture step adds the gradient of the ``regularization`` term, if any, to the
  /// α gradient before it is checked, clipped and applied. With a ``perturbation`` the weight
  /// step mixes the operations by its weights (drawn from `perturbationGenerator`) instead of
  /// `softmax(α)`; the α step is unchanged. With a ``projection`` every forward pass (of
  /// the α step, the weight step and the attack) mixes by its weights
  /// (``ArchitectureProjection/weights(_:)``), so α learns only through undecided rows.
  ///
  /// `train` and `valid` are this process's rows of the global batches; every gradient (the
  /// α gradient and, for second order, each gradient of the unrolled step; the weight
  /// gradient) is the average over the whole batches that `parallelism` computes, so every
  /// process of a job applies the same update. `prepareChunk(pass, chunk)` runs before the
  /// forward pass of micro-batch `chunk` of the step's `pass`-th gradient (0, 1, …), to seed
  /// its random masks.
  /// - Throws: ``NonFiniteError`` naming the loss or gradient that is not finite, before the
  ///   update it would poison (the same on every process: it is checked on averaged values).
  public mutating func step(
    network: SearchNetwork, train: LabelledBatch, valid: LabelledBatch?, updateArchitecture: Bool,
    parallelism: BatchParallelism = .single(), prepareChunk: (_ pass: Int, _ chunk: Int) -> Void = { _, _ in },
    perturbationGenerator: SeededGenerator = SeededGenerator(seed: 0)
  ) throws -> StepResult {
    network.train()
    var pass = 0
    func batchGradients(
      _ batch: LabelledBatch, wrt parameters: [Tensor], operationWeights: OperationWeights? = nil
    ) throws -> BatchParallelism.Result {
      let thisPass = pass
      pass += 1
      return try Self.lossGradients(
        network: network, batch: batch, wrt: parameters, operationWeights: operationWeights, projection: projection, parallelism: parallelism
      ) {
        prepareChunk(thisPass, $0)
      }
    }
    var architectureLoss: Float?
    if updateArchitecture, let valid {
      let architectureParameters = network.architectureParameters
      var g: [Tensor]
      if architect.order == .first {
        let result = try batchGradients(valid, wrt: architectureParameters.map(\.parameter.value))
        architectureLoss = Float(result.values[0])
        try NonFiniteError.check(architectureLoss!, "the architecture loss")
        g = result.gradients
      } else {
        g = try architect.architectureGradients(
          network: network, architecture: architectureParameters, train: train, valid: valid,
          weightOptimizer: weights, gradient: { try batchGradients($0, wrt: $1).gradients })
      }
      if let regularization {
        let term = regularization.gradients(architectureParameters)
        g = withoutGradients { zip(g, term).map { $0 + $1 } }
      }
      try Self.checkFinite(g, what: "architecture gradient")
      if let clip = architectureGradientClip { clipGradientNorm(&g, maxNorm: clip) }
      architecture.step(architectureParameters, gradients: g)
    }
    let weightParameters = network.namedParameters(.weight)
    var mixing: OperationWeights?
    var attackKept: Bool?
    if let perturbation {
      var generator = perturbationGenerator
      (mixing, attackKept) = try perturbation.mixingWeights(
        clean: withoutGradients { network.operationWeights }, network: network, generator: &generator
      ) { weights, gradient in
        let result = gradient
          ? try batchGradients(train, wrt: weights.tensors, operationWeights: weights)
          : try withoutGradients { try batchGradients(train, wrt: [], operationWeights: weights) }
        return (Float(result.values[0]), result.gradients)
      }
    }
    let result = try batchGradients(train, wrt: weightParameters.map(\.parameter.value), operationWeights: mixing)
    let value = Float(result.values[0])
    try NonFiniteError.check(value, "the training loss")
    var g = result.gradients
    clipGradientNorm(&g, maxNorm: weightGradientClip)
    try Self.checkFinite(g, what: "weight gradient")
    weights.step(weightParameters, gradients: g)
    return StepResult(loss: value, correct: result.correct, architectureLoss: architectureLoss, attackKept: attackKept)
  }

  /// The gradient with respect to `parameters` of `network`'s mean cross-entropy on the
  /// whole of `batch` (this process's rows of it; averaged over every process by
  /// `parallelism`), with its value and top-1 hits. The operations are mixed by
  /// `operationWeights` (nil: `softmax(α)`), mapped through `projection` if there is one
  /// (DARTS-PT); `prepareChunk(chunk)` runs before the forward pass of each micro-batch, to
  /// seed its random layers.
  public static func lossGradients(
    network: SearchNetwork, batch: LabelledBatch, wrt parameters: [Tensor], operationWeights: OperationWeights? = nil,
    projection: ArchitectureProjection? = nil, parallelism: BatchParallelism, prepareChunk: (_ chunk: Int) -> Void
  ) throws -> BatchParallelism.Result {
    try parallelism.gradients(batchCount: batch.globalCount, wrt: parameters, buffers: network.parameters(.buffer), valueCount: 1) { chunk, rows in
      prepareChunk(chunk)
      let part = batch.rows(rows)
      let weights = operationWeights ?? network.operationWeights
      let logits = network(part.images, operationWeights: projection?.weights(weights) ?? weights)
      let loss = logits.crossEntropy(labels: part.labels)
      return .init(objective: loss, values: [Double(loss.scalar)], correct: correctCount(logits: logits, labels: part.labels))
    }
  }

  /// Top-1 hits of `[N, K]` logits.
  public static func correctCount(logits: Tensor, labels: [Int]) -> Int {
    topKCorrect(logits: logits, labels: labels, ks: [1])[0]
  }

  private static func checkFinite(_ tensors: [Tensor], what: String) throws {
    if !globalNorm(tensors).isFinite { throw NonFiniteError("the \(what)") }
  }
}
