import NN
import TensorCore

/// The curvature monitor of a search (`--hessian-every N`; Zela et al., "Understanding and
/// Robustifying Differentiable Architecture Search", ICLR 2020; SPEC-ROBUST §4): after the
/// training steps of every N-th epoch (epochs 0, N, 2N, … and the last), the largest
/// eigenvalue of `∇²_α L_valid` — the Hessian of the cross-entropy on the epoch's last α batch
/// with respect to the raw α of both cell types (PC-DARTS' β held fixed), plus the α weight
/// decay — by ``PowerIteration`` on ``ArchitectureHessian``'s central-difference products.
/// A growing eigenvalue precedes collapse into parameter-free cells.
public struct HessianMonitor: Codable, Sendable, Equatable {
  /// Measure every `every` epochs (RobustDARTS' scripts: 2).
  public var every: Int
  /// The finite-difference radius of each product.
  public var radius: Double
  /// The power iteration's limits.
  public var iteration: PowerIteration

  public init(every: Int = 2, radius: Double = 1e-2, iteration: PowerIteration = PowerIteration()) {
    self.every = every
    self.radius = radius
    self.iteration = iteration
  }

  /// Whether epoch `epoch` (0-based, of `epochs`) is measured: `epoch % every == 0` or the last.
  public func measures(epoch: Int, epochs: Int) -> Bool { epoch % every == 0 || epoch == epochs - 1 }

  /// The largest eigenvalue of `network`'s α Hessian, where `gradient` returns `∇_α L` for
  /// the given α tensors (`alphas_normal`, `alphas_reduce`) of a fixed batch, with the network
  /// in training mode. The BN running statistics, which every product's forward passes move,
  /// are restored afterwards, as are α.
  /// - Throws: what `gradient` throws; ``NonFiniteError`` if the eigenvalue is not finite.
  public func eigenvalue(
    of network: SearchNetwork, weightDecay: Double, start: SeededGenerator, gradient: @escaping ([Tensor]) throws -> [Tensor]
  ) throws -> PowerIteration.Estimate {
    network.train()
    let buffers = network.namedParameters(.buffer).map { ($0.name, $0.parameter.value) }
    defer { try? network.update(parameters: Dictionary(uniqueKeysWithValues: buffers)) }
    let alphas = network.architectureParameters.filter { $0.name.hasPrefix("alphas_") }.map(\.parameter)
    let hessian = ArchitectureHessian(parameters: alphas, radius: radius, weightDecay: weightDecay, gradient: gradient)
    let estimate = try iteration.largestEigenvalue(dimension: hessian.dimension, generator: start, product: hessian.product)
    try NonFiniteError.check(estimate.eigenvalue, "the Hessian eigenvalue")
    return estimate
  }

  /// Why the monitor cannot run, in one line naming the flag, or nil.
  func settingsProblem() -> String? {
    if !(1...100_000).contains(every) { return "--hessian-every must be in 1...100000, got \(every)" }
    if !(radius.isFinite && radius > 0) { return "the Hessian's finite-difference radius must be positive and finite, got \(radius)" }
    if !(1...1000).contains(iteration.maximumIterations) { return "the power iteration's limit must be in 1...1000, got \(iteration.maximumIterations)" }
    if !(iteration.tolerance.isFinite && iteration.tolerance >= 0) { return "the power iteration's tolerance must be finite and non-negative, got \(iteration.tolerance)" }
    return nil
  }
}
