import TensorCore
import XCTest

/// Checks the reverse-mode gradients of `function` against central finite differences.
///
/// The scalar checked is `L = Σ function(inputs) ⊙ W` with a fixed random `W`, so every output
/// element contributes (this is a check of the vector–Jacobian product). For each element `x`
/// of each input, `(L(x + h) − L(x − h)) / 2h` is compared with the analytic gradient within
/// `atol + rtol·|numeric|`. `L` is accumulated in `Double`; with float32 forward passes the
/// finite difference carries a rounding error of about `1e-7·|L| / h`, so keep inputs small
/// and `h` around 1e-2 (smaller near kinks such as ReLU and max pooling).
public func checkGradients(
  _ name: String, inputs: [Tensor], step h: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3,
  file: StaticString = #filePath, line: UInt = #line, _ function: ([Tensor]) -> Tensor
) {
  let backend = inputs[0].backend
  let leaves = inputs.map { $0.requiringGradient() }
  let output = function(leaves)
  var generator = SeededGenerator(seed: 99)
  let weights = Tensor.randomUniform(output.shape, low: -1, high: 1, generator: &generator, on: backend)
  let analytic = gradients(of: (output * weights).sum(), wrt: leaves)

  func loss(_ values: [Tensor]) -> Double {
    withoutGradients { Tensor.dot(function(values), weights) }
  }

  for (k, input) in inputs.enumerated() {
    var numeric = [Float](repeating: 0, count: input.count)
    let base = input.scalars
    for i in 0..<input.count {
      var plus = base
      plus[i] += h
      var minus = base
      minus[i] -= h
      var values = inputs
      values[k] = Tensor(shape: input.shape, scalars: plus, on: backend)
      let lPlus = loss(values)
      values[k] = Tensor(shape: input.shape, scalars: minus, on: backend)
      let lMinus = loss(values)
      numeric[i] = Float((lPlus - lMinus) / (2 * Double(h)))
    }
    assertClose(analytic[k].scalars, numeric, rtol: rtol, atol: atol, "\(name): input \(k)", file: file, line: line)
  }
}
