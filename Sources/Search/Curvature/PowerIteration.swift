import TensorCore

/// The largest algebraic eigenvalue of a symmetric operator known only through its products
/// `v ↦ Hv`, by power iteration (SPEC-ROBUST §4): from a normalised `N(0, I)` start,
/// `u = Hv; λ = vᵀu; v = u/‖u‖`, until the relative change of λ falls below ``tolerance`` or
/// after ``maximumIterations`` products. That converges to the eigenvalue of largest
/// magnitude; when it is negative the iteration is rerun on `H − λI`, whose dominant
/// eigenvalue μ is `λ_max − λ ≥ 0`, and `λ_max = μ + λ` is reported. Examples:
/// `diag(3, 1, 0.5)` → 3; `diag(1, −4)` → −4 on the first run, then 1 after the shift.
public struct PowerIteration: Codable, Sendable, Equatable {
  /// Products per run (RobustDARTS-style monitors: 20).
  public var maximumIterations: Int
  /// Stop when `|λ_k − λ_{k−1}| ≤ tolerance·|λ_k|`.
  public var tolerance: Double

  public init(maximumIterations: Int = 20, tolerance: Double = 1e-3) {
    self.maximumIterations = maximumIterations
    self.tolerance = tolerance
  }

  /// What a run found.
  public struct Estimate: Sendable, Equatable {
    /// The largest algebraic eigenvalue.
    public var eigenvalue: Double
    /// Operator products spent (both runs together when shifted).
    public var products: Int
    /// Whether the last run met the tolerance before its iteration limit.
    public var converged: Bool
    /// Whether the first run found a negative dominant eigenvalue and the shifted run ran.
    public var shifted: Bool
  }

  /// The largest algebraic eigenvalue of the `dimension`-dimensional operator `product`,
  /// starting both runs from the same vector drawn from `generator`.
  public func largestEigenvalue(
    dimension: Int, generator: SeededGenerator, product: ([Double]) throws -> [Double]
  ) throws -> Estimate {
    let start = Self.start(dimension: dimension, generator: generator)
    let first = try dominant(from: start, product: product)
    guard first.eigenvalue < 0 else { return first }
    let shift = first.eigenvalue
    let second = try dominant(from: start) { v in zip(try product(v), v).map { $0 - shift * $1 } }
    return Estimate(eigenvalue: second.eigenvalue + shift, products: first.products + second.products, converged: second.converged, shifted: true)
  }

  /// The eigenvalue of largest magnitude (plain power iteration, no shift).
  public func dominantEigenvalue(
    dimension: Int, generator: SeededGenerator, product: ([Double]) throws -> [Double]
  ) throws -> Estimate {
    try dominant(from: Self.start(dimension: dimension, generator: generator), product: product)
  }

  /// A normalised `N(0, I)` vector.
  private static func start(dimension: Int, generator: SeededGenerator) -> [Double] {
    precondition(dimension > 0, "power iteration needs a dimension")
    var generator = generator
    return normalized((0..<dimension).map { _ in Double(generator.nextNormal()) })
  }

  /// The eigenvalue of largest magnitude (the Rayleigh quotient of the last iterate).
  private func dominant(from start: [Double], product: ([Double]) throws -> [Double]) throws -> Estimate {
    precondition(maximumIterations > 0, "power iteration needs at least one iteration")
    var v = start
    var lambda = 0.0
    for iteration in 1...maximumIterations {
      let u = try product(v)
      let next = zip(v, u).reduce(0) { $0 + $1.0 * $1.1 }
      let norm = Self.norm(u)
      let settled = iteration > 1 && abs(next - lambda) <= tolerance * abs(next)
      lambda = next
      if settled || norm == 0 { return Estimate(eigenvalue: lambda, products: iteration, converged: true, shifted: false) }
      v = u.map { $0 / norm }
    }
    return Estimate(eigenvalue: lambda, products: maximumIterations, converged: false, shifted: false)
  }

  static func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

  static func normalized(_ v: [Double]) -> [Double] {
    let n = norm(v)
    return v.map { $0 / n }
  }
}
