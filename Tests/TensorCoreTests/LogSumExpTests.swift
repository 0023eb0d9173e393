import Foundation
import TensorCore
import XCTest
import _TestSupport

/// The row-wise log-sum-exp (β-DARTS' smooth max; SPEC-ROBUST §1): values, bounds, shift
/// behaviour, and its gradient against finite differences.
final class LogSumExpTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func testValuesOfTheWorkedRows() {
    let rows = Tensor(shape: [2, 3], scalars: [0, 0, 0, 0, log(2), log(3)], on: backend)
    assertClose(withoutGradients { rows.logSumExpAlongLastAxis() }.scalars, [Float(log(3.0)), Float(log(6.0))], rtol: 1e-6, atol: 1e-6)
    XCTAssertEqual(rows.logSumExpAlongLastAxis().shape, [2])
  }

  func testStaysFiniteAndBoundedForLargeEntries() {
    // exp(1000) overflows a Float; the shifted form does not.
    let x = Tensor(shape: [2, 4], scalars: [1000, 999, 998, -5, -1000, -1000, -1000, -1000], on: backend)
    let lse = withoutGradients { x.logSumExpAlongLastAxis() }.scalars
    assertClose(lse, [1000 + Float(log(1 + exp(-1.0) + exp(-2.0))), -1000 + Float(log(4.0))], rtol: 1e-6, atol: 1e-3)
    // max ≤ logsumexp ≤ max + ln K.
    XCTAssert(lse[0] >= 1000 && lse[0] <= 1000 + Float(log(4.0)), "\(lse[0])")
  }

  func testGradientIsTheRowSoftmax() {
    let x = Tensor(shape: [1, 3], scalars: [0, log(2), log(3)], on: backend).requiringGradient()
    let g = gradients(of: x.logSumExpAlongLastAxis().sum(), wrt: [x])[0]
    assertClose(g.scalars, [1 / 6, 1 / 3, 1 / 2], rtol: 1e-6, atol: 1e-7)
  }

  func testFiniteDifferenceGradient() {
    var generator = SeededGenerator(seed: 5)
    let x = Tensor.randomUniform([4, 6], low: -3, high: 3, generator: &generator, on: backend)
    checkGradients("log-sum-exp", inputs: [x]) { $0[0].logSumExpAlongLastAxis() }
    let wide = Tensor.randomUniform([2, 3, 5], low: -2, high: 2, generator: &generator, on: backend)
    checkGradients("log-sum-exp rank 3", inputs: [wide]) { $0[0].logSumExpAlongLastAxis() }
  }
}
