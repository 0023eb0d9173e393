import NN
import Search
import TensorCore
import XCTest
import _TestSupport

/// SDARTS-RS and SDARTS-ADV (SPEC-ROBUST §2): the projection's worked examples, the ε
/// schedule, that ε = 0 is DARTS bit for bit, and that the attack never lowers the loss.
final class PerturbationTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  // MARK: Projection and schedule

  func testProjectionWorkedExamples() {
    let p: [Float] = [0.5, 0.3, 0.2]
    assertClose(SimplexProjection.project(zip(p, [0.25, -0.35, 0.05]).map(+)), [0.75, 0, 0.25], rtol: 0, atol: 1e-7)
    assertClose(SimplexProjection.project(zip(p, [0.1, 0.2, -0.1]).map(+)), [0.5, 0.41667, 0.08333], rtol: 0, atol: 1e-5)
  }

  func testProjectionRescuesTheArgmaxOfAnAllNonPositiveRowAndClampsAboveOne() {
    XCTAssertEqual(SimplexProjection.project([-0.2, -0.05, -0.1]), [0, 1, 0])
    XCTAssertEqual(SimplexProjection.project([-0.1, -0.1]), [1, 0], "the first of equal maxima")
    XCTAssertEqual(SimplexProjection.project([1.5, 0, -1]), [1, 0, 0])
  }

  func testProjectedRowsAreOnTheSimplex() {
    var generator = SeededGenerator(seed: 4)
    let rows = Tensor.randomUniform([14, 7], low: -0.4, high: 0.6, generator: &generator, on: backend)
    let projected = SimplexProjection.project(rows: rows).scalars
    XCTAssert(projected.allSatisfy { $0 >= 0 })
    for r in 0..<14 { XCTAssertEqual(projected[(r * 7)..<(r * 7 + 7)].reduce(0, +), 1, accuracy: 1e-6, "row \(r)") }
  }

  func testEpsilonScheduleAndStepSize() {
    let method = MixingWeightPerturbation(kind: .random)
    let values = [0, 25, 49].map { method.epsilon(epoch: $0, epochs: 50) }
    assertClose(values.map(Float.init), [0.03, 0.165, 0.2946], rtol: 0, atol: 1e-6)
    XCTAssertEqual(MixingWeightPerturbation.attackStepSize(epsilon: 0.3), 0.085714, accuracy: 1e-6)
    XCTAssertEqual(
      MixingWeightPerturbation(kind: .adversarial, epsilonStart: 0.1, epsilonMax: 0.5).epsilon(epoch: 5, epochs: 10), 0.3, accuracy: 1e-12)
    XCTAssertEqual(method.eventFields(epsilon: 0.03), ["perturb": .string("random"), "perturb_epsilon": .double(0.03)])
  }

  func testSettingsRefuseBadEpsilons() {
    var s = SearchSettings()
    s.perturbation = MixingWeightPerturbation(kind: .random)
    XCTAssertNil(s.validationProblem())
    for method in SearchSettings.Method.allCases {
      var reference = SearchSettings.reference(for: method)
      reference.perturbation = MixingWeightPerturbation(kind: .adversarial)
      XCTAssertNil(reference.validationProblem(), "\(method)")
    }
    s.perturbation = MixingWeightPerturbation(kind: .random, epsilonMax: -0.1)
    XCTAssertEqual(s.validationProblem(), "--perturb-epsilon must be finite and not negative, got -0.1")
    s.perturbation = MixingWeightPerturbation(kind: .adversarial, epsilonStart: .nan)
    XCTAssertEqual(s.validationProblem(), "--perturb-epsilon-start must be finite and not negative, got nan")
    s.perturbation = MixingWeightPerturbation(kind: .random, epsilonMax: 2)
    XCTAssertEqual(s.validationProblem(), "--perturb-epsilon and --perturb-epsilon-start must be at most 1 (a probability)")
  }

  // MARK: The weight step

  func testWithEpsilonZeroSDARTSIsDARTSBitForBit() throws {
    let darts = try TinySearch(backend: backend).run()
    for kind in MixingWeightPerturbation.Kind.allCases {
      let perturbation = WeightStepPerturbation(MixingWeightPerturbation(kind: kind, epsilonStart: 0, epsilonMax: 0))
      let sdarts = try TinySearch(backend: backend, perturbation: perturbation).run()
      XCTAssertEqual(sdarts.keys.sorted(), darts.keys.sorted())
      for (name, value) in darts { XCTAssertEqual(sdarts[name], value, "\(name) differs from DARTS with ε = 0 (\(kind))") }
    }
    // With ε > 0 the weights take another path, and every step is reproducible.
    let perturbation = WeightStepPerturbation(MixingWeightPerturbation(kind: .random), epsilon: 0.3)
    let rs = try TinySearch(backend: backend, perturbation: perturbation).run()
    XCTAssertNotEqual(rs["classifier.weight"], darts["classifier.weight"])
    XCTAssertEqual(try TinySearch(backend: backend, perturbation: perturbation).run(), rs)
  }

  func testRandomWeightsAreTheProjectedNoisyProbabilities() throws {
    let (network, _) = TinySearch(backend: backend).make()
    let clean = withoutGradients { network.operationWeights }
    let perturbation = WeightStepPerturbation(MixingWeightPerturbation(kind: .random), epsilon: 0.2)
    var generator = SeededGenerator(seed: 9)
    let (mixed, kept) = try perturbation.mixingWeights(clean: clean, network: network, generator: &generator) { _, _ in
      XCTFail("SDARTS-RS evaluates no loss")
      return (0, [])
    }
    XCTAssertNil(kept)
    var replay = SeededGenerator(seed: 9)
    for (p, tilde) in zip(clean.tensors, mixed.tensors) {
      let delta = Tensor.randomUniform(p.shape, low: -0.2, high: 0.2, generator: &replay, on: backend)
      let k = p.shape[1]
      let noisy = zip(p.scalars, delta.scalars).map(+)
      let expected = stride(from: 0, to: noisy.count, by: k).flatMap { SimplexProjection.project(Array(noisy[$0..<($0 + k)])) }
      XCTAssertEqual(tilde.scalars, expected)
      XCTAssertFalse(tilde.requiresGradient)
    }
  }

  /// A linear objective `Σ c·w` of the mixing weights, with its gradient `c`.
  func linearObjective(_ c: OperationWeights) -> (OperationWeights) -> Float {
    { w in zip(w.tensors, c.tensors).map { zip($0.scalars, $1.scalars).map(*).reduce(0, +) }.reduce(0, +) }
  }

  func testTheAttackRaisesALinearLossWithinTheBoundAndIsDiscardedWhenItLowersIt() throws {
    let (network, _) = TinySearch(backend: backend).make()
    let clean = withoutGradients { network.operationWeights }
    var generator = SeededGenerator(seed: 5)
    let c = clean.map { Tensor.randomUniform($0.shape, low: -1, high: 1, generator: &generator, on: backend) }
    let loss = linearObjective(c)
    let perturbation = WeightStepPerturbation(MixingWeightPerturbation(kind: .adversarial), epsilon: 0.1)
    var calls = (loss: 0, gradient: 0)
    let (attacked, kept) = try perturbation.mixingWeights(clean: clean, network: network, generator: &generator) { w, gradient in
      XCTAssertFalse(network.isTraining, "the attack runs in eval mode")
      if gradient { calls.gradient += 1 } else { calls.loss += 1 }
      XCTAssertEqual(w.normal.requiresGradient, gradient)
      return (loss(w), gradient ? c.tensors : [])
    }
    XCTAssert(network.isTraining, "back in training mode")
    XCTAssertEqual(calls.loss, 2, "L₀ and L₁")
    XCTAssertEqual(calls.gradient, 7, "seven PGD steps")
    XCTAssertEqual(kept, true)
    XCTAssertGreaterThan(loss(attacked), loss(clean) + 0.1, "the attack raised the loss")
    for (p, a) in zip(clean.tensors, attacked.tensors) {
      let k = p.shape[1]
      for r in 0..<p.shape[0] { XCTAssertEqual(a.scalars[(r * k)..<(r * k + k)].reduce(0, +), 1, accuracy: 1e-5) }
      // proj may exceed the ℓ∞ bound a little (the rescaling), never by more than ε again.
      XCTAssert(zip(p.scalars, a.scalars).allSatisfy { abs($0 - $1) <= 0.2 })
    }
    // An objective whose clean loss is the highest: the attack is discarded.
    var first = true
    let (discarded, discardedKept) = try perturbation.mixingWeights(clean: clean, network: network, generator: &generator) { w, gradient in
      defer { if !gradient { first = false } }
      return (first ? 1 : 0, gradient ? c.tensors : [])
    }
    XCTAssertEqual(discardedKept, false)
    XCTAssertEqual(discarded.normal.scalars, clean.normal.scalars)
    XCTAssertEqual(discarded.reduce.scalars, clean.reduce.scalars)
  }

  func testTheAttackOnATinySupernetNeverLowersTheEvalModeLoss() throws {
    let search = TinySearch(backend: backend)
    let (network, _) = search.make()
    var data = SeededGenerator(seed: 31)
    let batch = search.batch(&data)
    let clean = withoutGradients { network.operationWeights }
    func evalLoss(_ w: OperationWeights) -> Float {
      network.eval()
      defer { network.train() }
      return withoutGradients { network(batch.images, operationWeights: w).crossEntropy(labels: batch.labels).scalar }
    }
    let perturbation = WeightStepPerturbation(MixingWeightPerturbation(kind: .adversarial), epsilon: 0.3)
    var keptCount = 0
    for seed in UInt64(0)..<3 {
      var generator = SeededGenerator(seed: seed)
      let (attacked, kept) = try perturbation.mixingWeights(clean: clean, network: network, generator: &generator) { w, gradient in
        let loss = network(batch.images, operationWeights: w).crossEntropy(labels: batch.labels)
        return (loss.scalar, gradient ? gradients(of: loss, wrt: w.tensors) : [])
      }
      XCTAssertGreaterThanOrEqual(evalLoss(attacked), evalLoss(clean), "seed \(seed)")
      if kept == true {
        keptCount += 1
        XCTAssertNotEqual(attacked.normal.scalars, clean.normal.scalars)
      } else {
        XCTAssertEqual(attacked.normal.scalars, clean.normal.scalars)
      }
    }
    XCTAssertGreaterThan(keptCount, 0, "some attack raised the loss")
  }
}
