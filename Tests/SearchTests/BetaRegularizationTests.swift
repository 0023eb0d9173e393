import Foundation
import NN
import Search
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// β-DARTS (SPEC-ROBUST §1): every worked example of L_β and its gradient, the λ schedule,
/// the settings it refuses, and that with λ = 0 a search step is DARTS's, bit for bit.
final class BetaRegularizationTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func tensor(_ rows: [[Float]]) -> Tensor {
    Tensor(shape: [rows.count, rows[0].count], scalars: rows.flatMap { $0 }, on: backend).requiringGradient()
  }

  /// L_β and ∂L_β/∂A of `alphas`.
  func penaltyAndGradients(_ alphas: [Tensor]) -> (value: Float, gradients: [[Float]]) {
    let value = BetaRegularization.penalty(alphas)
    return (value.scalar, gradients(of: value, wrt: alphas).map(\.scalars))
  }

  func testOneRowWorkedExample() {
    let (value, g) = penaltyAndGradients([tensor([[0, log(2), log(3)]])])
    XCTAssertEqual(value, 1.791759, accuracy: 1e-6, "ln 6")
    assertClose(g[0], [1 / 6, 1 / 3, 1 / 2], rtol: 1e-6, atol: 1e-7)
  }

  func testTwoRowWorkedExampleInOneTensorAndAcrossNormalAndReduce() {
    let (value, g) = penaltyAndGradients([tensor([[0, 0, 0], [0, log(2), log(3)]])])
    XCTAssertEqual(value, 1.445186, accuracy: 1e-6, "(ln 3 + ln 6)/2")
    assertClose(g[0], [1 / 6, 1 / 6, 1 / 6, 1 / 12, 1 / 6, 1 / 4], rtol: 1e-6, atol: 1e-7)
    // The same rows as alphas_normal and alphas_reduce: the mean over all rows of both.
    let split = penaltyAndGradients([tensor([[0, 0, 0]]), tensor([[0, log(2), log(3)]])])
    XCTAssertEqual(split.value, 1.445186, accuracy: 1e-6)
    assertClose(split.gradients[0], [1 / 6, 1 / 6, 1 / 6], rtol: 1e-6, atol: 1e-7)
    assertClose(split.gradients[1], [1 / 12, 1 / 6, 1 / 4], rtol: 1e-6, atol: 1e-7)
  }

  func testShiftBoundsAndGradientRowSums() {
    var generator = SeededGenerator(seed: 3)
    let rows = (0..<14).map { _ in (0..<8).map { _ in generator.nextUniform() * 4 - 2 } }
    let (value, g) = penaltyAndGradients([tensor(rows)])
    // Adding c to one row raises L_β by c/E_A.
    var shifted = rows
    shifted[3] = shifted[3].map { $0 + 0.7 }
    XCTAssertEqual(penaltyAndGradients([tensor(shifted)]).value - value, 0.7 / 14, accuracy: 2e-6)
    // Each gradient row sums to 1/E_A.
    for r in 0..<14 { XCTAssertEqual(g[0][(r * 8)..<(r * 8 + 8)].reduce(0, +), 1 / 14, accuracy: 1e-6, "row \(r)") }
    // max ≤ logsumexp ≤ max + ln K row by row, so on the mean too.
    let meanMax = rows.map { $0.max()! }.reduce(0, +) / 14
    XCTAssert(value >= meanMax && value <= meanMax + Float(log(8.0)), "\(value) outside [\(meanMax), \(meanMax) + ln 8]")
  }

  func testOnlyAlphasArePenalisedAndTheFiniteDifferenceGradientAgrees() {
    var generator = SeededGenerator(seed: 8)
    let normal = Tensor.randomUniform([14, 7], low: -1, high: 1, generator: &generator, on: backend)
    let reduce = Tensor.randomUniform([14, 7], low: -1, high: 1, generator: &generator, on: backend)
    let betas = Tensor.randomUniform([14], low: -1, high: 1, generator: &generator, on: backend)
    let term = BetaRegularization()
    let withBetas = term.penalty([("alphas_normal", normal), ("alphas_reduce", reduce), ("betas_normal", betas)])
    XCTAssertEqual(withBetas.scalar, BetaRegularization.penalty([normal, reduce]).scalar)
    checkGradients("L_β", inputs: [normal, reduce], rtol: 1e-2, atol: 1e-4) { BetaRegularization.penalty($0) }
  }

  func testLambdaScheduleAndItsOptions() {
    let term = BetaRegularization()
    XCTAssertEqual([0, 10, 49].map { term.weight(epoch: $0) }, [0, 5, 24.5])
    XCTAssertEqual(BetaRegularization(lambdaMax: 50, lambdaDivisor: 100).weight(epoch: 99), 49.5, "the NAS-Bench-201 script's last epoch")
    XCTAssertEqual(BetaRegularization(lambdaMax: 10, lambdaDivisor: 50).weight(epoch: 25), 5)
    XCTAssertEqual(term.eventFields(epoch: 10), ["beta_lambda": .double(5)])
  }

  func testSettingsRefuseSecondOrderAndBadLambdas() {
    var s = SearchSettings()
    s.betaRegularization = BetaRegularization()
    XCTAssertNil(s.validationProblem())
    s.order = 2
    XCTAssertEqual(s.validationProblem(), "--regularizer beta is first order only (β-DARTS adds its term on the first-order α step): use --order 1")
    s.order = 1
    s.betaRegularization = BetaRegularization(lambdaMax: -1)
    XCTAssertEqual(s.validationProblem(), "--beta-lambda-max must not be negative, got -1.0")
    s.betaRegularization = BetaRegularization(lambdaDivisor: 0)
    XCTAssertEqual(s.validationProblem(), "--beta-lambda-divisor must be positive, got 0.0")
    s.betaRegularization = BetaRegularization(lambdaMax: .nan)
    XCTAssertEqual(s.validationProblem(), "--beta-lambda-max must be finite, got nan")
  }

  // MARK: The α step

  func supernet(regularization: ArchitectureRegularization?) -> (SearchNetwork, SearchOptimization) {
    TinySearch(backend: backend, regularization: regularization).make()
  }

  func run(regularization: ArchitectureRegularization?) throws -> [String: [Float]] {
    try TinySearch(backend: backend, regularization: regularization).run()
  }

  func testWithLambdaZeroBetaDARTSIsDARTSBitForBit() throws {
    let darts = try run(regularization: nil)
    // λ = 0 in epoch 0 of the default schedule, and in every epoch with lambdaMax 0.
    for regularization in [ArchitectureRegularization(BetaRegularization()), ArchitectureRegularization(BetaRegularization(lambdaMax: 0), epoch: 10)] {
      let beta = try run(regularization: regularization)
      XCTAssertEqual(beta.keys.sorted(), darts.keys.sorted())
      for (name, value) in darts { XCTAssertEqual(beta[name], value, "\(name) differs from DARTS with λ = 0") }
    }
    // With λ > 0 the α take another path.
    let penalised = try run(regularization: ArchitectureRegularization(BetaRegularization(), epoch: 40))
    XCTAssertNotEqual(penalised["alphas_normal"], darts["alphas_normal"])
  }

  func testTheTermAddsLambdaTimesSoftmaxOverRowsToTheAlphaGradient() {
    let (network, _) = supernet(regularization: nil)
    let regularization = ArchitectureRegularization(BetaRegularization(), epoch: 10)  // λ = 5
    let g = regularization.gradients(network.architectureParameters)
    let rows = Float(2 * network.configuration.topology.edgeCount)  // 5 edges per cell type
    for (gradient, alphas) in zip(g, [network.alphasNormal, network.alphasReduce]) {
      let softmax = withoutGradients { alphas.value.softmax(alongAxis: -1) }.scalars
      assertClose(gradient.scalars, softmax.map { 5 * $0 / rows }, rtol: 1e-5, atol: 1e-8)
    }
  }
}
