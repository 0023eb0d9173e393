import NN
import Search
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// The curvature monitor (SPEC-ROBUST §4): power iteration on the worked quadratics, the
/// central-difference Hessian-vector product on a quadratic, and the monitor's eigenvalue on a
/// real supernet against the spectrum of its explicitly built 224×224 Hessian.
final class HessianEigenvalueTests: XCTestCase {
  private func diagonal(_ d: [Double]) -> ([Double]) -> [Double] { { v in zip(d, v).map(*) } }

  func testPowerIterationOnTheWorkedQuadratics() throws {
    let iteration = PowerIteration()
    let start = SeededGenerator(seed: 3)
    let positive = try iteration.largestEigenvalue(dimension: 3, generator: start, product: diagonal([3, 1, 0.5]))
    XCTAssertEqual(positive.eigenvalue, 3, accuracy: 3e-3)
    XCTAssertFalse(positive.shifted)
    XCTAssertTrue(positive.converged)
    XCTAssertLessThanOrEqual(positive.products, 20)

    let plain = try iteration.dominantEigenvalue(dimension: 2, generator: start, product: diagonal([1, -4]))
    XCTAssertEqual(plain.eigenvalue, -4, accuracy: 4e-3, "plain iteration finds the eigenvalue of largest magnitude")
    let shifted = try iteration.largestEigenvalue(dimension: 2, generator: start, product: diagonal([1, -4]))
    XCTAssertTrue(shifted.shifted)
    XCTAssertEqual(shifted.eigenvalue, 1, accuracy: 5e-3, "the shifted run on H + 4I gives μ = 5, λ_max = 1")
    XCTAssertGreaterThan(shifted.products, plain.products)
  }

  func testPowerIterationStopsAtItsLimitAndOnAZeroOperator() throws {
    let capped = try PowerIteration(maximumIterations: 3, tolerance: 0).largestEigenvalue(
      dimension: 2, generator: SeededGenerator(seed: 1), product: diagonal([1, 0.999]))
    XCTAssertEqual(capped.products, 3)
    XCTAssertFalse(capped.converged)
    let zero = try PowerIteration().largestEigenvalue(dimension: 4, generator: SeededGenerator(seed: 1)) { $0.map { _ in 0 } }
    XCTAssertEqual(zero.eigenvalue, 0)
    XCTAssertEqual(zero.products, 1)
  }

  /// `L = ½ αᵀAα` (A symmetric, 2×3 α in two parameters): the central difference is exact up
  /// to rounding, so `Hv = Av + λv` to Float precision, and α is restored bit for bit.
  func testCentralDifferenceProductOnAQuadraticIsExact() throws {
    let backend = CPUBackend(threads: 1)
    var generator = SeededGenerator(seed: 5)
    let n = 6
    var a = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for i in 0..<n { for j in i..<n { a[i][j] = Double(generator.nextUniform()) - 0.5; a[j][i] = a[i][j] } }
    let first = Parameter(Tensor(shape: [1, 3], scalars: [0.3, -0.2, 0.9], on: backend), kind: .architecture)
    let second = Parameter(Tensor(shape: [1, 3], scalars: [-0.4, 0.1, 0.5], on: backend), kind: .architecture)
    let matrix = Tensor(shape: [n, n], scalars: a.flatMap { $0.map(Float.init) }, on: backend)
    let hessian = ArchitectureHessian(parameters: [first, second], radius: 1e-2, weightDecay: 1e-3) { values in
      let alpha = Tensor.concatenated(values.map { $0.reshaped(to: [3]) }, alongAxis: 0).reshaped(to: [n, 1])
      let loss = (alpha * Tensor.matmul(matrix, alpha)).sum() * 0.5
      return gradients(of: loss, wrt: values)
    }
    let before = [first.value.scalars, second.value.scalars]
    let v: [Double] = [1, -2, 0.5, 0, 3, -1]
    let product = try hessian.product(v)
    for i in 0..<n {
      let expected = (0..<n).reduce(0) { $0 + a[i][$1] * v[$1] } + 1e-3 * v[i]
      XCTAssertEqual(product[i], expected, accuracy: 2e-4, "row \(i)")
    }
    XCTAssertEqual([first.value.scalars, second.value.scalars], before, "α restored exactly")
    XCTAssertEqual(hessian.dimension, 6)
    XCTAssertEqual(try hessian.product([Double](repeating: 0, count: n)), [Double](repeating: 0, count: n))
  }

  /// A tiny supernet with 2·14·8 = 224 α values (4 nodes; α set to N(0, 1) so the loss is
  /// curved): the monitor's eigenvalue equals the largest eigenvalue of the Hessian built
  /// column by column from central differences of the α gradient (symmetrised, Jacobi's
  /// method) within 1 % with a long power iteration; the default 20-product estimate is a
  /// Rayleigh quotient, so it cannot exceed it. BN running statistics and α are restored.
  ///
  /// The supernet is one reduction cell whose 8 candidates per edge are `none` and copies of
  /// `avg_pool_3x3` and `skip_connect` (FactorizedReduce on the α-independent cell inputs), so
  /// that the loss is smooth in α. With ReLU operations reading α-dependent node states, a
  /// tiny batch makes the α gradient jump at every ReLU or max-pool switch that a step of r
  /// crosses: the finite-difference products are then not linear in v, and no explicit matrix
  /// describes them (at batch 4 the built matrix was as asymmetric as it was large).
  func testMonitorMatchesTheExplicitHessianOfATinySupernet() throws {
    let backend = CPUBackend(threads: 2)
    var factory = ParameterFactory(backend: backend, seed: 8)
    var configuration = SearchNetworkConfiguration(channels: 4, layers: 1, steps: 4, classes: 5)
    let smooth: [Primitive] = [.none, .avgPool3x3, .skipConnect, .avgPool3x3, .skipConnect, .avgPool3x3, .skipConnect, .avgPool3x3]
    configuration.normalOperations = Array(repeating: smooth, count: 14)
    configuration.reduceOperations = Array(repeating: smooth, count: 14)
    let network = SearchNetwork(configuration, using: &factory)
    var generator = SeededGenerator(seed: 9)
    for (_, parameter) in network.architectureParameters {
      parameter.assign(Tensor.randomNormal(parameter.value.shape, generator: &generator, on: backend))
    }
    let batch = randomBatch(count: 8, channels: 3, size: 8, classes: 5, generator: &generator, on: backend)
    let labelled = LabelledBatch(images: batch.images, labels: batch.labels)
    let gradient: ([Tensor]) throws -> [Tensor] = { alphas in
      try SearchOptimization.lossGradients(network: network, batch: labelled, wrt: alphas, parallelism: .single()) { _ in }.gradients
    }
    let alphas = network.architectureParameters.map(\.parameter)
    let (radius, weightDecay) = (1e-2, 1e-3)
    let explicit = ArchitectureHessian(parameters: alphas, radius: radius, weightDecay: weightDecay, gradient: gradient)
    XCTAssertEqual(explicit.dimension, 224)
    network.train()
    let n = explicit.dimension
    var h = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for j in 0..<n {
      var step = [Double](repeating: 0, count: n)
      step[j] = radius
      let plus = try explicit.gradient(at: step)
      step[j] = -radius
      let minus = try explicit.gradient(at: step)
      for i in 0..<n { h[i][j] = (plus[i] - minus[i]) / (2 * radius) }
    }
    var (asymmetry, scale) = (0.0, 0.0)
    for i in 0..<n {
      for j in 0..<i {
        asymmetry = max(asymmetry, abs(h[i][j] - h[j][i]))
        scale = max(scale, abs(h[i][j]))
      }
    }
    XCTAssertGreaterThan(scale, 1e-2, "the loss is curved in α")
    XCTAssertLessThan(asymmetry, 1e-2 * scale, "the finite-difference Hessian is symmetric up to its O(r²) error")
    for i in 0..<n {
      for j in 0..<i { (h[i][j], h[j][i]) = ((h[i][j] + h[j][i]) / 2, (h[i][j] + h[j][i]) / 2) }
      h[i][i] += weightDecay
    }
    let exact = try XCTUnwrap(symmetricEigenvalues(h).max())

    let buffersBefore = network.namedParameters(.buffer).map(\.parameter.value.scalars)
    let alphasBefore = alphas.map(\.value.scalars)
    let long = HessianMonitor(every: 1, radius: radius, iteration: PowerIteration(maximumIterations: 300, tolerance: 1e-9))
    let precise = try long.eigenvalue(of: network, weightDecay: weightDecay, start: SeededGenerator(seed: 4), gradient: gradient)
    XCTAssertEqual(precise.eigenvalue, exact, accuracy: 1e-2 * abs(exact), "\(precise)")
    let quick = try HessianMonitor().eigenvalue(of: network, weightDecay: weightDecay, start: SeededGenerator(seed: 4), gradient: gradient)
    XCTAssertLessThanOrEqual(quick.eigenvalue, exact * (1 + 1e-2), "a Rayleigh quotient is at most λ_max: \(quick)")
    XCTAssertGreaterThan(quick.eigenvalue, 0.5 * exact, "\(quick) against \(exact)")
    XCTAssertEqual(network.namedParameters(.buffer).map(\.parameter.value.scalars), buffersBefore, "BN running statistics restored")
    XCTAssertEqual(alphas.map(\.value.scalars), alphasBefore, "α restored")
  }

  /// The eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
  private func symmetricEigenvalues(_ matrix: [[Double]]) -> [Double] {
    var a = matrix
    let n = a.count
    for _ in 0..<100 {
      var off = 0.0
      for i in 0..<n { for j in 0..<n where i != j { off += a[i][j] * a[i][j] } }
      if off < 1e-22 { break }
      for p in 0..<n {
        for q in (p + 1)..<n where abs(a[p][q]) > 1e-300 {
          let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
          let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
          let c = 1 / (t * t + 1).squareRoot()
          let s = t * c
          for k in 0..<n {
            let (akp, akq) = (a[k][p], a[k][q])
            a[k][p] = c * akp - s * akq
            a[k][q] = s * akp + c * akq
          }
          for k in 0..<n {
            let (apk, aqk) = (a[p][k], a[q][k])
            a[p][k] = c * apk - s * aqk
            a[q][k] = s * apk + c * aqk
          }
        }
      }
    }
    return (0..<n).map { a[$0][$0] }
  }
}
