import NN
import TensorCore

/// The hook through which SDARTS changes the weight step, and nothing else: it turns the
/// clean mixing weights `p = softmax(α)` into the weights `p̃` that the weight step's forward
/// pass uses directly (no second softmax), SPEC-ROBUST §2. α itself is never touched, so the
/// α step and the restored α are those of DARTS.
///
/// With ε = 0 there is no perturbation: `p̃ = p` (`p` already lies on the simplex; the
/// projection's division by a row sum that rounds to 1 ± 1 ulp is not applied), so the run
/// equals DARTS bit for bit.
public struct WeightStepPerturbation: Sendable {
  public let method: MixingWeightPerturbation
  /// ε of the running epoch (``SearchRun`` sets it at the start of every epoch).
  public var epsilon: Float

  public init(_ method: MixingWeightPerturbation, epsilon: Float = 0) {
    self.method = method
    self.epsilon = epsilon
  }

  /// The weight step's loss on its batch at mixing weights `weights`, and, when `gradient`,
  /// its gradients with respect to `weights.normal` and `weights.reduce` (which are then
  /// gradient leaves). Without `gradient` no graph is recorded.
  public typealias Objective = (_ weights: OperationWeights, _ gradient: Bool) throws -> (loss: Float, gradients: [Tensor])

  /// The mixing weights of the weight step, and for SDARTS-ADV whether the attack was kept
  /// (nil for SDARTS-RS and with ε = 0).
  ///
  /// - Parameters:
  ///   - clean: `p`, without gradient.
  ///   - network: switched to eval mode during the adversarial attack (BN on its running
  ///     statistics), and back to training mode after it.
  ///   - generator: the noise δ (and the attack's random start), keyed by the caller to the
  ///     run position so that a resumed run draws the same.
  ///   - objective: the attack's loss and gradient (unused by SDARTS-RS).
  public func mixingWeights(
    clean: OperationWeights, network: SearchNetwork, generator: inout SeededGenerator, objective: Objective
  ) throws -> (weights: OperationWeights, attackKept: Bool?) {
    guard epsilon > 0 else { return (clean, nil) }
    switch method.kind {
    case .random:
      return (randomlyPerturbed(clean, generator: &generator), nil)
    case .adversarial:
      network.eval()
      defer { network.train() }
      return try attacked(clean, generator: &generator, objective: objective)
    }
  }

  /// `proj(p + δ)`, `δ ~ U(−ε, ε)` per entry (normal cell first, row-major).
  func randomlyPerturbed(_ p: OperationWeights, generator: inout SeededGenerator) -> OperationWeights {
    let e = epsilon
    return p.map { t in
      let delta = Tensor.randomUniform(t.shape, low: -e, high: e, generator: &generator, on: t.backend)
      return SimplexProjection.project(rows: Self.pointwise([t, delta]) { $0[0] + $0[1] })
    }
  }

  /// SDARTS-ADV's `Linf_PGD_alpha`: clean loss `L₀` at `p`; random start `proj(p + δ)`; 7
  /// steps `p̃ ← proj(p + clamp(p̃ + (2ε/7)·sign(∇_p̃ L) − p, −ε, ε))`; final loss `L₁`; `p`
  /// again if `L₀ > L₁` (the attack did not raise the loss). After the projection the ℓ∞
  /// bound may be exceeded slightly, as in the reference.
  func attacked(
    _ p: OperationWeights, generator: inout SeededGenerator, objective: Objective
  ) throws -> (weights: OperationWeights, attackKept: Bool) {
    let cleanLoss = try objective(p, false).loss
    var adversarial = randomlyPerturbed(p, generator: &generator)
    let (e, step) = (epsilon, Float(MixingWeightPerturbation.attackStepSize(epsilon: Double(epsilon))))
    let clean = p.tensors
    for _ in 0..<MixingWeightPerturbation.attackSteps {
      let g = try objective(adversarial.map { $0.requiringGradient() }, true).gradients
      let next = zip(zip(adversarial.tensors, g), clean).map { pair, p in
        SimplexProjection.project(rows: Self.pointwise([pair.0, pair.1, p]) { v in
          let ascended = v[0] + step * Self.sign(v[1])
          return v[2] + min(max(ascended - v[2], -e), e)
        })
      }
      adversarial = OperationWeights(normal: next[0], reduce: next[1])
    }
    let attackedLoss = try objective(adversarial, false).loss
    return cleanLoss > attackedLoss ? (p, false) : (adversarial, true)
  }

  /// `torch.sign`: −1, 0 or 1.
  private static func sign(_ x: Float) -> Float { x > 0 ? 1 : x < 0 ? -1 : 0 }

  /// `f` of the elements at each position of same-shaped tensors (no gradient).
  private static func pointwise(_ inputs: [Tensor], _ f: ([Float]) -> Float) -> Tensor {
    let values = inputs.map(\.scalars)
    let result = values[0].indices.map { i in f(values.map { $0[i] }) }
    return Tensor(shape: inputs[0].shape, scalars: result, on: inputs[0].backend)
  }
}
