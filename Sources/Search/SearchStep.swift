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

  public init(weights: SGD, architecture: Adam, architect: Architect, weightGradientClip: Float = 5, architectureGradientClip: Float? = nil) {
    self.weights = weights
    self.architecture = architecture
    self.architect = architect
    self.weightGradientClip = weightGradientClip
    self.architectureGradientClip = architectureGradientClip
  }

  /// The outcome of one iteration.
  public struct StepResult: Sendable {
    /// Weight-step training loss and the number of correct top-1 predictions in its batch.
    public var loss: Float
    public var correct: Int
    /// Architecture-step validation loss (nil when the architecture was not updated).
    public var architectureLoss: Float?
  }

  /// One iteration on `network`: (optionally) an architecture step on `valid`, then a weight
  /// step on `train`. Returns the weight-step loss.
  /// - Throws: ``NonFiniteError`` naming the loss or gradient that is not finite, before the
  ///   update it would poison.
  public mutating func step(
    network: SearchNetwork, train: LabelledBatch, valid: LabelledBatch?, updateArchitecture: Bool
  ) throws -> StepResult {
    network.train()
    let loss = { (batch: LabelledBatch) in network(batch.images).crossEntropy(labels: batch.labels) }
    var architectureLoss: Float?
    if updateArchitecture, let valid {
      let architectureParameters = network.architectureParameters
      var g: [Tensor]
      if architect.order == .first {
        let l = loss(valid)
        try NonFiniteError.check(l.scalar, "the architecture loss")
        architectureLoss = l.scalar
        g = gradients(of: l, wrt: architectureParameters.map(\.parameter.value))
      } else {
        g = try architect.architectureGradients(
          network: network, architecture: architectureParameters, train: train, valid: valid,
          weightOptimizer: weights, loss: loss)
      }
      try Self.checkFinite(g, what: "architecture gradient")
      if let clip = architectureGradientClip { clipGradientNorm(&g, maxNorm: clip) }
      architecture.step(architectureParameters, gradients: g)
    }
    let weightParameters = network.namedParameters(.weight)
    let logits = network(train.images)
    let l = logits.crossEntropy(labels: train.labels)
    let value = l.scalar
    try NonFiniteError.check(value, "the training loss")
    var g = gradients(of: l, wrt: weightParameters.map(\.parameter.value))
    clipGradientNorm(&g, maxNorm: weightGradientClip)
    try Self.checkFinite(g, what: "weight gradient")
    weights.step(weightParameters, gradients: g)
    return StepResult(loss: value, correct: Self.correctCount(logits: logits, labels: train.labels), architectureLoss: architectureLoss)
  }

  /// Top-1 hits of `[N, K]` logits.
  public static func correctCount(logits: Tensor, labels: [Int]) -> Int {
    topKCorrect(logits: logits, labels: labels, ks: [1])[0]
  }

  private static func checkFinite(_ tensors: [Tensor], what: String) throws {
    if !globalNorm(tensors).isFinite { throw NonFiniteError("the \(what)") }
  }
}
