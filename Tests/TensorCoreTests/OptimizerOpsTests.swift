import Foundation
import TensorCore
import XCTest

/// The fused optimiser operations and reductions of TensorCore against plain loops written from
/// PyTorch's formulas (`torch.optim.SGD`, `torch.optim.Adam`), over several steps, with
/// copy-on-write and gradient-leaf semantics. Values are random of odd length (no SIMD-width
/// alignment); the loops compute in Float in the formulas' order, so agreement is within
/// float rounding.
final class OptimizerOpsTests: XCTestCase {
  let backend = CPUBackend(threads: 2)
  let count = 37

  func randomScalars(_ generator: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in generator.nextUniform() * 2 - 1 }
  }

  func testSGDMomentumStepMatchesPlainLoop() {
    var generator = SeededGenerator(seed: 3)
    let (lr, mu, wd): (Float, Float, Float) = (0.05, 0.9, 3e-4)
    var w = randomScalars(&generator)
    var buffer = [Float](repeating: 0, count: count)
    let initial = Tensor(shape: [count], scalars: w, on: backend).requiringGradient()
    var weight = initial
    var momentumBuffer = Tensor.zeros([count], on: backend)
    for step in 0..<3 {
      let g = randomScalars(&generator)
      for i in 0..<count {
        let d = g[i] + wd * w[i]
        buffer[i] = step == 0 ? d : mu * buffer[i] + d
        w[i] -= lr * buffer[i]
      }
      Tensor.sgdMomentumStep(
        weight: &weight, gradient: Tensor(shape: [count], scalars: g, on: backend),
        momentumBuffer: &momentumBuffer, learningRate: lr, momentum: mu, weightDecay: wd,
        firstStep: step == 0)
      assertClose(weight.scalars, w, "weight after step \(step + 1)")
      assertClose(momentumBuffer.scalars, buffer, "momentum buffer after step \(step + 1)")
    }
    XCTAssertTrue(weight.requiresGradient, "an updated leaf stays a gradient leaf")
    XCTAssertNotEqual(initial.scalars, weight.scalars)
    XCTAssertEqual(initial.scalars.count, count, "the tensor sharing the initial storage is unchanged (copy-on-write)")
  }

  func testAdamStepMatchesPlainLoop() {
    var generator = SeededGenerator(seed: 4)
    let (lr, b1, b2, eps, wd) = (3e-4, 0.5, 0.999, 1e-8, 1e-3)
    var w = randomScalars(&generator)
    let before = w
    var m = [Float](repeating: 0, count: count)
    var v = [Float](repeating: 0, count: count)
    let initial = Tensor(shape: [count], scalars: w, on: backend).requiringGradient()
    var weight = initial
    var firstMoment = Tensor.zeros([count], on: backend)
    var secondMoment = Tensor.zeros([count], on: backend)
    for t in 1...3 {
      let g = randomScalars(&generator)
      let stepSize = Float(lr / (1 - Foundation.pow(b1, Double(t))))
      let correction2Root = Float((1 - Foundation.pow(b2, Double(t))).squareRoot())
      for i in 0..<count {
        let gi = g[i] + Float(wd) * w[i]
        m[i] = Float(b1) * m[i] + Float(1 - b1) * gi
        v[i] = Float(b2) * v[i] + Float(1 - b2) * gi * gi
        w[i] -= stepSize * m[i] / (v[i].squareRoot() / correction2Root + Float(eps))
      }
      Tensor.adamStep(
        weight: &weight, gradient: Tensor(shape: [count], scalars: g, on: backend),
        firstMoment: &firstMoment, secondMoment: &secondMoment, step: t, learningRate: lr,
        beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd)
      assertClose(weight.scalars, w, "weight after step \(t)")
      assertClose(firstMoment.scalars, m, "first moment after step \(t)")
      assertClose(secondMoment.scalars, v, "second moment after step \(t)")
    }
    XCTAssertTrue(weight.requiresGradient, "an updated leaf stays a gradient leaf")
    XCTAssertEqual(initial.scalars, before, "the tensor sharing the initial storage is unchanged (copy-on-write)")
  }

  func testRunningAverageStepMatchesPlainLoop() {
    var generator = SeededGenerator(seed: 6)
    let (momentum, unbias): (Float, Float) = (0.1, 64.0 / 63.0)
    var r = randomScalars(&generator)
    let initial = Tensor(shape: [count], scalars: r, on: backend)
    var running = initial
    for _ in 0..<2 {
      let batch = randomScalars(&generator)
      for i in 0..<count { r[i] = (1 - momentum) * r[i] + momentum * batch[i] * unbias }
      Tensor.runningAverageStep(&running, toward: Tensor(shape: [count], scalars: batch, on: backend), momentum: momentum, scale: unbias)
      assertClose(running.scalars, r, "running statistics")
    }
    XCTAssertNotEqual(initial.scalars, running.scalars, "the tensor sharing the initial storage is unchanged (copy-on-write)")
  }

  func testDotAndSumOfSquaresMatchDoubleLoop() {
    var generator = SeededGenerator(seed: 5)
    let a = (0..<1001).map { _ in generator.nextUniform() * 2 - 1 }
    let b = (0..<1001).map { _ in generator.nextUniform() * 2 - 1 }
    let ta = Tensor(shape: [7, 11, 13], scalars: a, on: backend)
    let tb = Tensor(shape: [7, 11, 13], scalars: b, on: backend)
    let products = zip(a, b).map { Double($0) * Double($1) }
    let squares = a.map { Double($0) * Double($0) }
    // Float32 partial sums over blocks of at most 4096 elements: relative error of order 1e-7
    // of the sum of magnitudes.
    XCTAssertEqual(Tensor.dot(ta, tb), products.reduce(0, +), accuracy: 1e-6 * products.reduce(0) { $0 + abs($1) })
    XCTAssertEqual(ta.sumOfSquares, squares.reduce(0, +), accuracy: 1e-6 * squares.reduce(0, +))
  }

  func testHostBytesAreTheLittleEndianScalars() {
    let values: [Float] = [1.5, -2, 0, 3.25e-8, .infinity]
    let t = Tensor(shape: [5], scalars: values, on: backend)
    let bytes = t.withHostBytes { [UInt8]($0) }
    let expected = values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { [UInt8]($0) } }
    XCTAssertEqual(bytes, expected)
  }

  private func assertClose(_ actual: [Float], _ expected: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() where abs(a - e) > 1e-6 + 1e-6 * abs(e) {
      XCTFail("\(what): element \(i) is \(a), expected \(e)", file: file, line: line)
      return
    }
  }
}
