import LanguageModels
import NN
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// Sizes and names as SPEC-RNN §9 gives them, derivation (§6.6), genotypes (§7), dropout masks
/// (§3) and a finite-difference check of the search cell's α gradient.
final class RecurrentModelTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func testParameterCountsAndReferenceNames() {
    var factory = ParameterFactory(backend: backend, seed: 0)
    let search = RecurrentLanguageModel(
      vocabulary: 10_000, cell: RecurrentSearchCell(inputSize: 300, hiddenSize: 300, using: &factory), dropouts: .search,
      using: &factory)
    XCTAssertEqual(search.parameterCount(.weight), 4_810_000)
    XCTAssertEqual(search.parameterCount(.architecture), 36 * 5)
    XCTAssertEqual(
      search.namedParameters().map(\.name),
      ["encoder.weight", "rnns.0._W0"] + (0..<8).map { "rnns.0._Ws.\($0)" }
        + ["rnns.0.bn.running_mean", "rnns.0.bn.running_var", "rnns.0.bn.num_batches_tracked", "rnns.0.alphas", "decoder.bias"])
    let evaluation = RecurrentLanguageModel(
      vocabulary: 10_000, cell: RecurrentCell(genotype: .dartsV2, inputSize: 850, hiddenSize: 850, using: &factory),
      dropouts: .evaluation, using: &factory)
    XCTAssertEqual(evaluation.parameterCount(.weight), 22_960_000)
    // WikiText-2 (V = 33,278, H = 700): 33,127,878.
    let wikiText = RecurrentLanguageModel(
      vocabulary: 33_278, cell: RecurrentCell(genotype: .dartsV2, inputSize: 700, hiddenSize: 700, using: &factory),
      dropouts: .evaluation, using: &factory)
    XCTAssertEqual(wikiText.parameterCount(.weight), 33_127_878)
    // Initialisation U(−0.04, 0.04), decoder bias 0.
    let w0 = evaluation.cell.w0.value.scalars
    XCTAssert(w0.allSatisfy { abs($0) <= 0.04 } && w0.contains { abs($0) > 0.039 })
    XCTAssert(evaluation.decoder.bias.value.scalars.allSatisfy { $0 == 0 })
  }

  func testDerivationPicksTheStrongestPredecessorAndOperation() throws {
    var factory = ParameterFactory(backend: backend, seed: 0)
    let cell = RecurrentSearchCell(inputSize: 4, hiddenSize: 4, nodes: 3, using: &factory)
    // Rows: node 1 (edge from s0), node 2 (s0, s1), node 3 (s0, s1, s2); columns none, tanh, relu, sigmoid, identity.
    let alphas: [[Float]] = [
      [9, 1, 2, 0, 0],  // none is strongest but never chosen: relu
      [0, 0, 0, 3, 0], [0, 3, 0, 0, 0],  // a tie across predecessors: the lower (s0, sigmoid)
      [0, 0, 0, 0, 1], [0, 0, 2, 0, 0], [0, 0, 2, 2, 0],  // s1 relu beats s2's tie of relu and sigmoid (lower index first)
    ]
    try cell.update(parameters: ["alphas": Tensor(shape: [6, 5], scalars: alphas.flatMap { $0 }, on: backend)])
    XCTAssertEqual(cell.derivedGenotype(), RecurrentGenotype(recurrent: [.init(.relu, 0), .init(.sigmoid, 0), .init(.relu, 1)], concat: [1, 2, 3]))
  }

  func testGenotypesJSONAndValidation() throws {
    XCTAssertEqual(RecurrentGenotype.dartsV2.description,
      "Genotype(recurrent=[('sigmoid', 0), ('relu', 1), ('relu', 1), ('identity', 1), ('tanh', 2), ('sigmoid', 5), ('tanh', 3), ('relu', 5)], concat=range(1, 9))")
    XCTAssertEqual(RecurrentGenotype.published["DARTS"], .dartsV2)
    XCTAssertNil(RecurrentGenotype.enas.validationProblem())
    let json = try JSONEncoder().encode(RecurrentGenotype.dartsV1)
    XCTAssertEqual(try JSONDecoder().decode(RecurrentGenotype.self, from: json), .dartsV1)
    let decoded = try JSONDecoder().decode(RecurrentGenotype.self, from: Data(#"{"recurrent": [["tanh", 0], ["relu", 1]], "concat": [1, 2]}"#.utf8))
    XCTAssertEqual(decoded.recurrent.map(\.operation), [.tanh, .relu])
    XCTAssertNotNil(RecurrentGenotype(recurrent: [.init(.tanh, 1)], concat: [1]).validationProblem())
    XCTAssertNotNil(RecurrentGenotype(recurrent: [.init(.none, 0)], concat: [1]).validationProblem())
    XCTAssertNotNil(RecurrentGenotype(recurrent: [.init(.tanh, 0)], concat: [0]).validationProblem())
    XCTAssertNotNil(RecurrentGenotype(recurrent: [], concat: []).validationProblem())
  }

  func testDropoutMasksAreScaledBernoulliDraws() {
    var generator = SeededGenerator(seed: 3)
    let mask = Tensor.dropoutMask([100_000], probability: 0.75, generator: &generator, on: backend).scalars
    XCTAssert(mask.allSatisfy { $0 == 0 || $0 == 4 })
    let kept = Double(mask.filter { $0 != 0 }.count) / 100_000
    XCTAssertEqual(kept, 0.25, accuracy: 0.01)
    XCTAssertNil(RecurrentDropouts.search.problem)
    XCTAssertEqual(RecurrentDropouts(output: 1, hidden: 0, cellInput: 0, embeddingOutput: 0, embedding: 0).problem, "--dropout must be in [0, 1), got 1.0")
  }

  func testEvaluationModeUsesNoDropoutAndTrainingModeDoes() {
    var factory = ParameterFactory(backend: backend, seed: 5)
    let model = RecurrentLanguageModel(
      vocabulary: 9, cell: RecurrentCell(genotype: .dartsV2, inputSize: 4, hiddenSize: 4, using: &factory), dropouts: .evaluation,
      using: &factory)
    let tokens = [1, 2, 3, 4, 5, 6]
    var (g1, g2) = (SeededGenerator(seed: 1), SeededGenerator(seed: 2))
    model.eval()
    let a = model(tokens, steps: 3, hidden: model.initialHidden(batch: 2), generator: &g1).logits.scalars
    let b = model(tokens, steps: 3, hidden: model.initialHidden(batch: 2), generator: &g2).logits.scalars
    XCTAssertEqual(a, b)
    model.train()
    let c = model(tokens, steps: 3, hidden: model.initialHidden(batch: 2), generator: &g1).logits.scalars
    XCTAssertNotEqual(a, c)
  }

  func testSearchCellGradientsAgreeWithFiniteDifferences() {
    var factory = ParameterFactory(backend: backend, seed: 8)
    let cell = RecurrentSearchCell(inputSize: 3, hiddenSize: 3, nodes: 3, initRange: 0.5, using: &factory)
    cell.eval()  // running statistics: a smooth map of the inputs
    var generator = SeededGenerator(seed: 9)
    let inputs = Tensor.randomUniform([2 * 4, 3], low: -1, high: 1, generator: &generator, on: backend)
    let hidden = Tensor.randomUniform([4, 3], low: -0.5, high: 0.5, generator: &generator, on: backend)
    let alphas = Tensor.randomNormal([6, 5], generator: &generator, on: backend)
    try! cell.update(parameters: ["alphas": alphas])
    checkGradients("search cell inputs", inputs: [inputs, hidden], step: 1e-2, rtol: 3e-2, atol: 3e-3) { t in
      cell(t[0], steps: 2, hidden: t[1], masks: .none).outputs
    }
    // α is the cell's own parameter: central differences by hand on Σ outputs ⊙ W.
    let weights = Tensor.randomUniform([8, 3], low: -1, high: 1, generator: &generator, on: backend)
    func loss(_ a: [Float]) -> Double {
      try! cell.update(parameters: ["alphas": Tensor(shape: [6, 5], scalars: a, on: backend)])
      return withoutGradients { Tensor.dot(cell(inputs, steps: 2, hidden: hidden, masks: .none).outputs, weights) }
    }
    let base = alphas.scalars
    _ = loss(base)
    let analytic = gradients(of: (cell(inputs, steps: 2, hidden: hidden, masks: .none).outputs * weights).sum(), wrt: [cell.alphas.value])[0].scalars
    let numeric = base.indices.map { i -> Float in
      var (up, down) = (base, base)
      up[i] += 1e-2
      down[i] -= 1e-2
      return Float((loss(up) - loss(down)) / 2e-2)
    }
    assertClose(analytic, numeric, rtol: 3e-2, atol: 3e-3, "dα")
    XCTAssert(analytic.contains { abs($0) > 1e-3 })
  }
}
