import LanguageModels
import NN
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// The recurrent cells and the tied model against PyTorch (`Scripts/reference/make_recurrent_fixture.py`,
/// cells written there from SPEC-RNN as the reference computes them): outputs, the last hidden
/// state, every gradient, and the search cell's BN running statistics.
final class RecurrentFixtureTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func fixture() throws -> [String: Any] { try Fixture("recurrent", in: .module).root }

  /// Sets a cell's `_W0` and `_Ws.*` from a fixture section.
  func load(_ module: Module, _ section: [String: Any], prefix: String = "") throws {
    var values = ["\(prefix)_W0": section.tensor("W0", on: backend)]
    for (i, w) in (section["Ws"] as! [[String: Any]]).enumerated() {
      values["\(prefix)_Ws.\(i)"] = Tensor(shape: w.shape, scalars: w.floats("data"), on: backend)
    }
    try module.update(parameters: values)
  }

  func gradientsOfWs(_ section: [String: Any]) -> [[Float]] { (section["grad_Ws"] as! [[String: Any]]).map { $0.floats("data") } }

  /// Runs `cell` (its `_W0` and `_Ws` loaded from `section`) on the section's inputs, hidden
  /// state and masks, and compares outputs, h_T and the gradients of `Σ outputs ⊙ G` with
  /// respect to W₀, `extra` (with the section's `grad_<name>`), the inputs, h₀ and every W_n.
  func check(
    _ cell: some RecurrentCellModule, section: [String: Any], w0: Parameter, ws: [Parameter], extra: [(name: String, value: Tensor)] = [],
    outputTolerance: Float, gradientTolerance: Float
  ) throws {
    let sizes = try fixture()["sizes"] as! [String: Any]
    let (t, b, h) = (Int(sizes.number("T")), Int(sizes.number("B")), Int(sizes.number("H")))
    try load(cell, section)
    let inputs = section.tensor("inputs", on: backend).reshaped(to: [t * b, h]).requiringGradient()
    let hidden = section.tensor("hidden", on: backend).requiringGradient()
    let masks = RecurrentCellMasks(x: section.tensor("mask_x", on: backend), h: section.tensor("mask_h", on: backend))
    let (outputs, last) = cell(inputs, steps: t, hidden: hidden, masks: masks)
    assertClose(outputs.scalars, section.values("outputs"), rtol: outputTolerance, atol: outputTolerance / 10, "outputs")
    assertClose(last.scalars, section.values("last"), rtol: outputTolerance, atol: outputTolerance / 10, "h_T")
    let loss = (outputs * section.tensor("grad_output", on: backend).reshaped(to: [t * b, h])).sum()
    let named = [("W0", w0.value)] + extra + [("inputs", inputs), ("hidden", hidden)]
    let grads = gradients(of: loss, wrt: named.map(\.1) + ws.map(\.value))
    for (i, (name, _)) in named.enumerated() {
      assertClose(grads[i].scalars, section.values("grad_\(name)"), rtol: gradientTolerance, atol: gradientTolerance / 10, "d\(name)")
    }
    for (n, expected) in gradientsOfWs(section).enumerated() {
      assertClose(grads[named.count + n].scalars, expected, rtol: gradientTolerance, atol: gradientTolerance / 10, "dW\(n + 1)")
    }
  }

  func testEvaluationCellMatchesPyTorch() throws {
    let section = try fixture()["eval_cell"] as! [String: Any]
    var factory = ParameterFactory(backend: backend, seed: 0)
    let cell = RecurrentCell(genotype: .dartsV2, inputSize: 6, hiddenSize: 6, using: &factory)
    try check(cell, section: section, w0: cell.w0, ws: cell.ws, outputTolerance: 1e-5, gradientTolerance: 1e-4)
  }

  func testSearchCellMatchesPyTorch() throws {
    let section = try fixture()["search_cell"] as! [String: Any]
    var factory = ParameterFactory(backend: backend, seed: 0)
    let cell = RecurrentSearchCell(inputSize: 6, hiddenSize: 6, using: &factory)
    try cell.update(parameters: ["alphas": section.tensor("alphas", on: backend)])
    try check(
      cell, section: section, w0: cell.w0, ws: cell.ws, extra: [("alphas", cell.alphas.value)], outputTolerance: 1e-4,
      gradientTolerance: 1e-3)
    // 9 BN calls per step, each updating the running statistics.
    assertClose(cell.bn.runningMean.value.scalars, section.values("running_mean"), rtol: 1e-4, atol: 1e-6, "running mean")
    assertClose(cell.bn.runningVariance.value.scalars, section.values("running_var"), rtol: 1e-4, atol: 1e-6, "running var")
  }

  func testTiedModelLossAndGradientsMatchPyTorch() throws {
    let f = try fixture()
    let section = f["model"] as! [String: Any]
    let sizes = f["sizes"] as! [String: Any]
    let (v, t, b, h) = (Int(sizes.number("V")), Int(sizes.number("T")), Int(sizes.number("B")), Int(sizes.number("H")))
    var factory = ParameterFactory(backend: backend, seed: 0)
    let model = RecurrentLanguageModel(
      vocabulary: v, cell: RecurrentCell(genotype: .dartsV2, inputSize: h, hiddenSize: h, using: &factory), dropouts: .none,
      using: &factory)
    try load(model, section, prefix: "rnns.0.")
    try model.update(parameters: ["encoder.weight": section.tensor("encoder", on: backend), "decoder.bias": section.tensor("bias", on: backend)])
    var generator = SeededGenerator(seed: 1)
    let forward = model(section.ints("tokens"), steps: t, hidden: model.initialHidden(batch: b), generator: &generator)
    let nll = RecurrentLanguageModel<RecurrentCell>.negativeLogLikelihood(forward, targets: section.ints("targets"))
    let tar = RecurrentLanguageModel<RecurrentCell>.temporalActivationPenalty(forward, steps: t, beta: 1e-3)
    XCTAssertEqual(Double(nll.scalars[0]), section.number("nll"), accuracy: 1e-5)
    XCTAssertEqual(Double(tar.scalars[0]), section.number("tar"), accuracy: 1e-8)
    let grads = gradients(of: nll + tar, wrt: [model.encoder.weight.value, model.decoder.bias.value, model.cell.w0.value])
    // The tied weight collects both the lookup's and the decoder's gradient.
    assertClose(grads[0].scalars, section.values("grad_encoder"), rtol: 1e-4, atol: 1e-6, "d encoder")
    assertClose(grads[1].scalars, section.values("grad_bias"), rtol: 1e-4, atol: 1e-6, "d bias")
    assertClose(grads[2].scalars, section.values("grad_W0"), rtol: 1e-4, atol: 1e-6, "dW0")
  }
}

extension Dictionary where Key == String, Value == Any {
  /// The data of the tensor entry under `key`.
  func values(_ key: String) -> [Float] { (self[key] as! [String: Any]).floats("data") }
}
