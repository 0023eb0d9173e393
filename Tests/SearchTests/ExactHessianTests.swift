import NN
import Search
import TensorCore
import XCTest
import _TestSupport

/// The second-order architect against closed-form derivatives on a model whose training loss is
/// quadratic in the weights, where the central finite difference of the Hessian-vector product
/// is exact: any error in the virtual step (η, momentum buffer, weight decay), in v, in ε or in
/// the restore shows up beyond rounding.
final class ExactHessianTests: XCTestCase {
  /// `L_train = ½ Σ α_i (w_i x_i)²`, `L_val = Σ α_i w_i y_i` with x, y the batches' images.
  final class Toy: Module {
    let w: Parameter
    let alpha: Parameter
    init(w: Tensor, alpha: Tensor) {
      self.w = Parameter(w, kind: .weight)
      self.alpha = Parameter(alpha, kind: .architecture)
    }
  }

  func testSecondOrderGradientEqualsTheClosedForm() throws {
    let backend = CPUBackend(threads: 1)
    var generator = SeededGenerator(seed: 11)
    func random(_ low: Float, _ high: Float) -> [Float] { (0..<6).map { _ in low + (high - low) * generator.nextUniform() } }
    let (w0, a, x, y, buf) = (random(-1, 1), random(0.5, 1.5), random(-1, 1), random(-1, 1), random(-0.1, 0.1))
    let toy = Toy(w: Tensor(shape: [6], scalars: w0, on: backend), alpha: Tensor(shape: [6], scalars: a, on: backend))
    let (eta, mu, lambda): (Float, Float, Float) = (0.05, 0.9, 3e-4)
    var sgd = SGD(learningRate: eta, momentum: mu, weightDecay: lambda)
    sgd.momentumBuffers["w"] = Tensor(shape: [6], scalars: buf, on: backend)
    let train = LabelledBatch(images: Tensor(shape: [6], scalars: x, on: backend), labels: [0])
    let valid = LabelledBatch(images: Tensor(shape: [6], scalars: y, on: backend), labels: [1])
    let loss = { (batch: LabelledBatch) -> Tensor in
      let w = toy.w.value
      let alpha = toy.alpha.value
      return batch.labels[0] == 0
        ? (alpha * (w * batch.images) * (w * batch.images)).sum() * 0.5
        : (alpha * w * batch.images).sum()
    }
    let g = try Architect(order: .second).architectureGradients(
      network: toy, architecture: toy.namedParameters(.architecture), train: train, valid: valid,
      weightOptimizer: sgd, gradient: { gradients(of: loss($0), wrt: $1) })[0].scalars

    // Closed form: w' = w − η(μ·buf + α x² w + λ w); dα = w' y; v = α y; Hv = w x² v.
    let expected = (0..<6).map { i -> Float in
      let unrolled = w0[i] - eta * (mu * buf[i] + a[i] * x[i] * x[i] * w0[i] + lambda * w0[i])
      let v = a[i] * y[i]
      return unrolled * y[i] - eta * w0[i] * x[i] * x[i] * v
    }
    assertClose(g, expected, rtol: 1e-4, atol: 1e-6)
    XCTAssertEqual(toy.w.value.scalars, w0, "the weights are restored exactly")
    // First order is the plain validation gradient w·y, visibly different.
    let first = try Architect(order: .first).architectureGradients(
      network: toy, architecture: toy.namedParameters(.architecture), train: train, valid: valid,
      weightOptimizer: sgd, gradient: { gradients(of: loss($0), wrt: $1) })[0].scalars
    assertClose(first, (0..<6).map { w0[$0] * y[$0] }, rtol: 1e-6, atol: 1e-7)
    XCTAssertGreaterThan(zip(first, expected).map { abs($0 - $1) }.max()!, 1e-3)
  }
}
