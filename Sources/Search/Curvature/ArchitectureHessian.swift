import NN
import TensorCore

/// The Hessian `H = ∇²_α L` of a loss with respect to architecture parameters, known through
/// Hessian-vector products by central differences of gradients (SPEC-ROBUST §4; the autodiff
/// has no second order): `Hv ≈ ‖v‖·[∇L(α + r v̂) − ∇L(α − r v̂)] / (2r)`, `v̂ = v/‖v‖`, error
/// O(r²) (exact for quadratics up to rounding), plus `λ_α·v` for the architecture weight decay
/// λ_α, so that `H` is the Hessian of `L + (λ_α/2)‖α‖²` as RobustDARTS reports it.
///
/// α is the concatenation of the parameters' values, flattened in order (DARTS: `alphas_normal`
/// then `alphas_reduce`, 2·14·8 = 224 values). The gradient must be a deterministic function
/// of α (same batch, random layers reseeded alike, BN running statistics restored: see
/// ``HessianMonitor``); every product leaves the parameters exactly as it found them.
public struct ArchitectureHessian {
  /// The architecture parameters α.
  public let parameters: [Parameter]
  /// The finite-difference radius r.
  public let radius: Double
  /// λ_α, added times v to every product.
  public let weightDecay: Double
  /// ∇_α L with respect to the given values of the parameters (their current values), one
  /// tensor per parameter.
  public let gradient: ([Tensor]) throws -> [Tensor]

  public init(parameters: [Parameter], radius: Double, weightDecay: Double, gradient: @escaping ([Tensor]) throws -> [Tensor]) {
    self.parameters = parameters
    self.radius = radius
    self.weightDecay = weightDecay
    self.gradient = gradient
  }

  /// Number of architecture values (the side of H).
  public var dimension: Int { parameters.map(\.value.count).reduce(0, +) }

  /// `∇_α L` at `α + offset` (`offset` flattened like α), flattened; α restored afterwards.
  public func gradient(at offset: [Double]) throws -> [Double] {
    precondition(offset.count == dimension, "an offset of \(offset.count) values for \(dimension) architecture values")
    let original = parameters.map(\.value)
    defer { for (parameter, value) in zip(parameters, original) { parameter.assign(value) } }
    var start = 0
    for (parameter, value) in zip(parameters, original) {
      let scalars = value.scalars
      let moved = scalars.indices.map { Float(Double(scalars[$0]) + offset[start + $0]) }
      parameter.assign(Tensor(shape: value.shape, scalars: moved, on: value.backend))
      start += scalars.count
    }
    return try gradient(parameters.map(\.value)).flatMap { $0.scalars.map(Double.init) }
  }

  /// `Hv` by the central difference along `v` (zero for `v = 0`).
  public func product(_ v: [Double]) throws -> [Double] {
    let norm = PowerIteration.norm(v)
    guard norm > 0 else { return v }
    let step = v.map { $0 * radius / norm }
    let plus = try gradient(at: step)
    let minus = try gradient(at: step.map { -$0 })
    let scale = norm / (2 * radius)
    return v.indices.map { (plus[$0] - minus[$0]) * scale + weightDecay * v[$0] }
  }
}
