import NN
import TensorCore
import XCTest

/// Asserts that the reverse-mode gradients of `loss` with respect to `parameters` of `network`
/// match central finite differences, `(L(p + h) − L(p − h)) / 2h` with `h = step(name)`, at
/// every `stride`-th element of each parameter, within `2e-3 + 5 %` of the numeric value. Each
/// parameter is moved through `network.update(parameters:)` and restored afterwards.
/// - Returns: the analytic gradients, in the order of `parameters`.
@discardableResult
func assertGradientsMatchFiniteDifferences(
  of loss: () -> Tensor, wrt parameters: [(name: String, parameter: Parameter)], in network: Module, every stride: Int,
  step: (String) -> Float, file: StaticString = #filePath, line: UInt = #line
) throws -> [Tensor] {
  let analytic = gradients(of: loss(), wrt: parameters.map(\.parameter.value))
  for (k, (name, parameter)) in parameters.enumerated() {
    let (base, shape, backend) = (parameter.value.scalars, parameter.value.shape, parameter.value.backend)
    let h = step(name)
    for i in Swift.stride(from: 0, to: base.count, by: stride) {
      var values = [Double]()
      for sign in [Float(1), -1] {
        var moved = base
        moved[i] += sign * h
        try network.update(parameters: [name: Tensor(shape: shape, scalars: moved, on: backend)])
        values.append(Double(withoutGradients { loss() }.scalar))
      }
      try network.update(parameters: [name: Tensor(shape: shape, scalars: base, on: backend)])
      let numeric = Float((values[0] - values[1]) / (2 * Double(h)))
      XCTAssertEqual(analytic[k].scalars[i], numeric, accuracy: 2e-3 + 0.05 * abs(numeric), "\(name)[\(i)]", file: file, line: line)
    }
  }
  return analytic
}
