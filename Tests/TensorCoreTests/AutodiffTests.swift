import TensorCore
import XCTest
import _TestSupport

/// Semantics of `gradients(of:wrt:)`: subsets, unconnected tensors, no-gradient mode and
/// release of saved activations.
final class AutodiffTests: XCTestCase {
  let backend = CPUBackend(threads: 1)

  func testGradientsOfASubsetLeaveOthersUntouched() {
    let w = Tensor(shape: [2], scalars: [2, 3], on: backend).requiringGradient()
    let alpha = Tensor(shape: [2], scalars: [5, 7], on: backend).requiringGradient()
    let loss = (w * alpha).sum()
    let onlyAlpha = gradients(of: loss, wrt: [alpha], retainGraph: true)
    XCTAssertEqual(onlyAlpha[0].scalars, [2, 3])
    let both = gradients(of: loss, wrt: [w, alpha])
    XCTAssertEqual(both[0].scalars, [5, 7])
    XCTAssertEqual(both[1].scalars, [2, 3])
  }

  func testUnconnectedTensorGetsZeros() {
    let a = Tensor(shape: [3], scalars: [1, 2, 3], on: backend).requiringGradient()
    let b = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4], on: backend).requiringGradient()
    let g = gradients(of: (a * a).sum(), wrt: [b, a])
    XCTAssertEqual(g[0].scalars, [0, 0, 0, 0])
    XCTAssertEqual(g[1].scalars, [2, 4, 6])
  }

  func testIntermediateTensorGradientAndSeed() {
    let x = Tensor(shape: [2], scalars: [1, 2], on: backend).requiringGradient()
    let y = x * 3
    let z = y * y
    let g = gradients(of: z, wrt: [y, x], seed: Tensor(shape: [2], scalars: [1, 10], on: backend))
    XCTAssertEqual(g[0].scalars, [6, 120])  // 2y·seed
    XCTAssertEqual(g[1].scalars, [18, 360])  // 2y·3·seed
  }

  func testNoGradientModeRecordsNothing() {
    let w = Tensor(shape: [2], scalars: [1, 2], on: backend).requiringGradient()
    let y = withoutGradients { (w * w).relu().sum() }
    XCTAssertFalse(y.requiresGradient)
    XCTAssertTrue((w * w).requiresGradient)
    XCTAssertFalse((Tensor(shape: [1], scalars: [1], on: backend) * 2).requiresGradient)
  }

  func testSavedActivationsAreReleasedByTheBackwardPass() {
    let x = Tensor.zeros([64, 16, 32, 32], on: backend).requiringGradient()
    let weight = Tensor(repeating: 0.1, shape: [16, 16, 1, 1], on: backend).requiringGradient()
    let before = backend.memory.statistics.live
    var loss: Tensor? = x.conv2d(weight: weight).relu().conv2d(weight: weight).relu().sum()
    let during = backend.memory.statistics.live
    XCTAssertGreaterThan(during - before, 3 * 4 << 20, "three 4 MiB activations are kept for backward")
    _ = gradients(of: loss!, wrt: [weight])
    XCTAssertLessThan(backend.memory.statistics.live - before, 1 << 20, "activations released after backward")
    loss = nil
  }

  /// A sum keeps none of its operands for the backward pass and a product keeps only the factor
  /// the other one's gradient needs: `h·mask` (drop path) and `h₁ + h₂` (a cell's node) let
  /// `h` go as soon as the forward pass has used it, and the gradients stay exact.
  func testSumsAndConstantFactorsKeepNoOperand() {
    let x = Tensor(shape: [1 << 20], scalars: (0..<(1 << 20)).map { Float($0 % 7) - 3 }, on: backend).requiringGradient()
    let mask = Tensor(shape: [1 << 20], scalars: (0..<(1 << 20)).map { Float($0 % 2) * 2 }, on: backend)
    let before = backend.memory.statistics.live
    // Each of x·2, x·3 and the product (x·2)·mask is a 4 MiB temporary the graph could keep.
    let y = (x * 2) * mask + (x * 3)
    XCTAssertLessThan(backend.memory.statistics.live - before, (4 << 20) + (1 << 20), "only the output y is live")
    let gradient = gradients(of: y.sum(), wrt: [x])[0].scalars
    for i in [0, 1, 2, 5, 1 << 19] { XCTAssertEqual(gradient[i], 2 * Float(i % 2) * 2 + 3, "element \(i)") }
  }

  /// BN (with γ/β) → ReLU → depthwise convolution keeps the normalisation's input but not its
  /// output: the convolution recomputes that from the input in its backward rule.
  func testAnAffineBatchNormOutputReadByAConvolutionIsNotKept() {
    var generator = SeededGenerator(seed: 3)
    let x = Tensor.randomNormal([4, 16, 64, 64], generator: &generator, on: backend).requiringGradient()
    let gamma = Tensor(repeating: 1, shape: [16], on: backend).requiringGradient()
    let beta = Tensor.zeros([16], on: backend).requiringGradient()
    let w = Tensor.randomNormal([16, 1, 3, 3], generator: &generator, on: backend).requiringGradient()
    let before = backend.memory.statistics.live
    let y = x.batchNormalized(gamma: gamma, beta: beta).output.conv2d(weight: w, padding: (1, 1), groups: 16, rectifyingInput: true)
    // x and y are 1 MiB each; a kept normalised tensor would add a third MiB-sized one.
    XCTAssertLessThan(backend.memory.statistics.live - before, (1 << 20) + (1 << 18), "only the output y is live")
    XCTAssertEqual(gradients(of: y.sum(), wrt: [x, gamma, beta, w]).map(\.shape), [x.shape, [16], [16], w.shape])
  }

  func testInPlaceUpdatesAreCopyOnWrite() {
    let a = Tensor(shape: [3], scalars: [1, 2, 3], on: backend)
    var b = a
    Tensor.runningAverageStep(&b, toward: Tensor(shape: [3], scalars: [2, 4, 6], on: backend), momentum: 1)
    XCTAssertEqual(a.scalars, [1, 2, 3])
    XCTAssertEqual(b.scalars, [2, 4, 6])
  }
}
