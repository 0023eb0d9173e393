import TensorCore
import XCTest
import _TestSupport

/// Finite-difference checks of every differentiable primitive and composite op.
final class GradientCheckTests: XCTestCase {
  let backend = CPUBackend(threads: 2)
  var generator = SeededGenerator(seed: 7)

  func random(_ shape: [Int], low: Float = -1, high: Float = 1) -> Tensor {
    Tensor.randomUniform(shape, low: low, high: high, generator: &generator, on: backend)
  }

  func testBroadcastingArithmetic() {
    let a = random([2, 3, 4])
    let b = random([3, 1])
    checkGradients("add", inputs: [a, b]) { $0[0] + $0[1] }
    checkGradients("subtract", inputs: [a, b]) { $0[0] - $0[1] }
    checkGradients("multiply", inputs: [a, b]) { $0[0] * $0[1] }
    checkGradients("divide", inputs: [a, random([3, 1], low: 1, high: 2)]) { $0[0] / $0[1] }
    checkGradients("channel broadcast", inputs: [random([2, 3, 2, 2]), random([1, 3, 1, 1])]) { $0[0] * $0[1] + $0[1] }
    checkGradients("scalar weight", inputs: [random([1]), random([2, 3, 4, 4])]) { $0[0] * $0[1] }
    checkGradients("affine", inputs: [a]) { ($0[0] * 3 + 1) - 2 }
    checkGradients("weighted sum", inputs: [random([2, 3, 5, 5]), random([2, 3, 5, 5]), random([2, 3, 5, 5]), random([2, 3, 5, 5]), random([2, 3, 5, 5]), random([5])]) {
      Tensor.weightedSum(Array($0[0..<5]), weights: $0[5])
    }
  }

  func testFanOutAccumulates() {
    checkGradients("fan-out", inputs: [random([5])]) { x in x[0] * x[0] + x[0] * 2 + (-x[0]) }
    // d/dx of x·x + x at x = 3 is 7.
    let x = Tensor(shape: [1], scalars: [3], on: backend).requiringGradient()
    let g = gradients(of: (x * x + x).sum(), wrt: [x])
    XCTAssertEqual(g[0].scalars, [7])
  }

  /// Channel slices hand back gradients of just their channels, which the reverse pass sums
  /// into the input's gradient by channel segment: overlapping slices, a dense use, and
  /// channels no slice covers (zero, even in a recycled dirty buffer).
  func testChannelSliceGradientsAccumulateBySegment() {
    let shape = [2, 6, 2, 2]
    let weights = (0..<4).map { _ in random(shape) }
    func channels(_ t: Tensor, _ range: Range<Int>) -> Tensor { t.slicedChannels(range) }
    for dense in [true, false] {
      let x = random(shape).requiringGradient()
      do { _ = Tensor(repeating: .nan, shape: shape, on: backend) }
      var loss = (x.slicedChannels(0..<2) * channels(weights[0], 0..<2)).sum()
        + (x.slicedChannels(1..<4) * channels(weights[1], 1..<4)).sum()
        + (x.slicedChannels(5..<6) * channels(weights[2], 5..<6)).sum()
      if dense { loss = loss + (x * weights[3]).sum() }
      let dx = gradients(of: loss, wrt: [x])[0]
      let w = weights.map(\.scalars)
      let expected = (0..<dx.count).map { i -> Float in
        let c = (i / 4) % 6
        var v: Float = dense ? w[3][i] : 0
        if c < 2 { v += w[0][i] }
        if (1..<4).contains(c) { v += w[1][i] }
        if c == 5 { v += w[2][i] }
        return v
      }
      assertClose(dx.scalars, expected, rtol: 1e-6, atol: 1e-7, dense ? "with a dense use" : "slices only")
    }
    checkGradients("overlapping channel slices", inputs: [random(shape)]) {
      Tensor.concatenated([$0[0].slicedChannels(0..<2), $0[0].slicedChannels(1..<4), $0[0].slicedChannels(5..<6)], alongAxis: 1) * 0.5
    }
  }

  func testUnaryFunctions() {
    checkGradients("relu", inputs: [Tensor(shape: [6], scalars: [-1, -0.5, -0.2, 0.3, 0.7, 1.5], on: backend)]) { $0[0].relu() }
    checkGradients("exp", inputs: [random([3, 4])]) { $0[0].exp() }
    checkGradients("log", inputs: [random([3, 4], low: 0.5, high: 2)]) { $0[0].log() }
  }

  func testRecurrentCellFunctions() {
    checkGradients("sigmoid", inputs: [random([3, 7], low: -4, high: 4)]) { $0[0].sigmoid() }
    checkGradients("tanh", inputs: [random([3, 7], low: -3, high: 3)]) { $0[0].tanh() }
    // A gated highway node of the recurrent cell: s + σ(a)·(tanh(b) − s).
    checkGradients("highway", inputs: [random([2, 4]), random([2, 4]), random([2, 4])]) {
      $0[0] + $0[1].sigmoid() * ($0[2].tanh() - $0[0])
    }
    // Rows that repeat, rows never read (zero gradient) and a second use of the table.
    checkGradients("gather rows", inputs: [random([6, 4])]) { t in
      t[0].gatheringRows([4, 0, 4, 2, 4]) * t[0].gatheringRows([1, 1, 5, 0, 3])
    }
    let table = random([5, 3]).requiringGradient()
    let dTable = gradients(of: table.gatheringRows([2, 2, 0]).sum(), wrt: [table])[0].scalars
    XCTAssertEqual(dTable, [1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0])
  }

  func testReductionsAndMovement() {
    let x = random([2, 3, 4])
    checkGradients("sum axes", inputs: [x]) { $0[0].summed(alongAxes: [0, 2]) }
    checkGradients("sum keepdims", inputs: [x]) { $0[0].summed(alongAxes: [1], keepingDimensions: true) }
    checkGradients("mean", inputs: [x]) { $0[0].mean(alongAxes: [-1]) }
    checkGradients("sum all", inputs: [x]) { $0[0].sum() }
    checkGradients("reshape", inputs: [x]) { $0[0].reshaped(to: [4, -1]) * $0[0].reshaped(to: [4, 6]) }
    checkGradients("broadcast", inputs: [random([3, 1])]) { $0[0].broadcast(to: [2, 3, 5]) }
    checkGradients("permute", inputs: [x]) { $0[0].permuted([2, 0, 1]) }
    checkGradients("shifted slice", inputs: [random([2, 3, 4, 4])]) { $0[0].sliced(lower: [0, 0, 1, 1], upper: [2, 3, 4, 4]) }
    checkGradients("rows of a batch", inputs: [random([5, 2, 3, 3])]) { $0[0].rows(1..<4) }
    checkGradients("channel slice", inputs: [random([2, 5, 2, 2])]) { $0[0].slicedChannels(1..<4) }
    checkGradients("concat", inputs: [random([2, 2, 3]), random([2, 1, 3])]) { Tensor.concatenated([$0[0], $0[1], $0[0]], alongAxis: 1) }
    checkGradients("channel shuffle", inputs: [random([2, 8, 2, 3])]) { $0[0].channelShuffled(groups: 4) }
    checkGradients("weighted sum joined with a bypass and shuffled", inputs: [
      random([2, 2, 2, 3]), random([2, 2, 2, 3]), random([2, 8, 2, 3]), random([2, 6, 2, 3]), random([4]),
    ]) {
      Tensor.weightedSum([$0[0], $0[1]], weights: $0[4], bypass: [($0[2], 2..<8), ($0[3], 0..<6)], shuffleGroups: 4)
    }
    checkGradients("weighted sum shuffled, no bypass", inputs: [random([2, 4, 3, 2]), random([2, 4, 3, 2]), random([2])]) {
      Tensor.weightedSum([$0[0], $0[1]], weights: $0[2], shuffleGroups: 2)
    }
    checkGradients("global average", inputs: [random([2, 3, 3, 5])]) { $0[0].globalAveragePooled() }
  }

  /// The fused PC-DARTS node is the composition it replaces (weighted sums, a channel slice of
  /// each bypass, concatenation, channel shuffle), forward and backward: at K = 4 with bypasses
  /// taken from x (stride-1 edges) and from a whole pooled tensor (stride-2 edges), at K = 2,
  /// and with the processed part spanning two groups.
  func testJoinedWeightedSumEqualsItsComposition() {
    // (K, processed channels, bypass (channels of the tensor, range))
    let cases: [(Int, Int, [(Int, Range<Int>)])] = [
      (4, 3, [(12, 3..<12), (9, 0..<9), (12, 3..<12)]), (2, 6, [(6, 0..<6)]), (4, 4, [(9, 1..<5), (4, 0..<4)]),
    ]
    for (k, p, bypassLayout) in cases {
      let processed = (0..<3).map { _ in random([2, p, 3, 5]).requiringGradient() }
      let rests = bypassLayout.map { random([2, $0.0, 3, 5]).requiringGradient() }
      let weights = random([processed.count + rests.count]).requiringGradient()
      let upstream = random([2, p + bypassLayout[0].1.count, 3, 5])
      let fused = Tensor.weightedSum(
        processed, weights: weights, bypass: zip(rests, bypassLayout).map { ($0, $1.1) }, shuffleGroups: k)
      let composed = Tensor.concatenated([
        Tensor.weightedSum(processed, weights: weights.sliced(lower: [0], upper: [processed.count])),
        Tensor.weightedSum(zip(rests, bypassLayout).map { $0.slicedChannels($1.1) },
                           weights: weights.sliced(lower: [processed.count], upper: [weights.count])),
      ], alongAxis: 1).channelShuffled(groups: k)
      XCTAssertEqual(fused.shape, composed.shape)
      XCTAssertEqual(fused.scalars, composed.scalars, "K = \(k), P = \(p)")
      let inputs = processed + rests + [weights]
      let fusedGradients = gradients(of: (fused * upstream).sum(), wrt: inputs)
      let composedGradients = gradients(of: (composed * upstream).sum(), wrt: inputs)
      for i in 0..<(inputs.count - 1) {
        XCTAssertEqual(fusedGradients[i].scalars, composedGradients[i].scalars, "K = \(k), P = \(p), input \(i)")
      }
      assertClose(fusedGradients.last!.scalars, composedGradients.last!.scalars, rtol: 1e-5, atol: 1e-5, "weight gradients")
    }
  }

  /// Slice gradients write zeros only outside the box; the buffer they get may be dirty (a
  /// released NaN tensor of the same size is handed back by the allocator), so every element
  /// outside must still come out zero.
  func testSliceGradientsAreZeroOutsideTheBoxInDirtyBuffers() {
    let cases: [([Int], [Int], [Int])] = [
      ([2, 5, 3, 3], [0, 1, 0, 0], [2, 4, 3, 3]), ([2, 3, 4, 4], [0, 0, 1, 1], [2, 3, 4, 4]),
      ([3, 4, 2], [1, 0, 0], [2, 4, 2]), ([2, 6, 2, 2], [0, 0, 0, 0], [2, 2, 2, 2]),
    ]
    for (shape, lower, upper) in cases {
      let x = random(shape).requiringGradient()
      do { _ = Tensor(repeating: .nan, shape: shape, on: backend) }
      let dx = gradients(of: x.sliced(lower: lower, upper: upper).sum(), wrt: [x])[0]
      let strides = shape.indices.map { shape[($0 + 1)...].reduce(1, *) }
      let expected = (0..<dx.count).map { i -> Float in
        shape.indices.allSatisfy { (lower[$0]..<upper[$0]).contains((i / strides[$0]) % shape[$0]) } ? 1 : 0
      }
      XCTAssertEqual(dx.scalars, expected, "slice \(lower)..<\(upper) of \(shape)")
    }
    let processed = random([2, 2, 2, 2]).requiringGradient()
    let rest = random([2, 8, 2, 2]).requiringGradient()
    let weights = Tensor(shape: [2], scalars: [1, 1], on: backend)
    do { _ = Tensor(repeating: .nan, shape: [2, 8, 2, 2], on: backend) }
    let joined = Tensor.weightedSum([processed], weights: weights, bypass: [(rest, 2..<8)], shuffleGroups: 4)
    let dRest = gradients(of: joined.sum(), wrt: [rest])[0]
    XCTAssertEqual(dRest.scalars, (0..<64).map { ($0 / 4) % 8 >= 2 ? 1 : 0 })
  }

  func testConvolutions() {
    // (input shape, weight shape, stride, padding, dilation, groups)
    let cases: [([Int], [Int], (Int, Int), (Int, Int), (Int, Int), Int)] = [
      ([2, 3, 5, 5], [4, 3, 3, 3], (1, 1), (1, 1), (1, 1), 1),
      ([1, 3, 6, 6], [2, 3, 3, 3], (2, 2), (1, 1), (1, 1), 1),
      ([2, 4, 6, 6], [4, 1, 3, 3], (1, 1), (2, 2), (2, 2), 4),
      ([1, 3, 7, 7], [3, 1, 5, 5], (2, 2), (4, 4), (2, 2), 3),
      ([2, 4, 4, 4], [6, 2, 3, 3], (1, 1), (1, 1), (1, 1), 2),
      ([2, 3, 6, 6], [5, 3, 1, 1], (2, 2), (0, 0), (1, 1), 1),
      ([1, 2, 5, 7], [3, 2, 1, 7], (1, 2), (0, 3), (1, 1), 1),
      ([1, 2, 3, 3], [2, 2, 2, 2], (1, 1), (0, 0), (1, 1), 1),
    ]
    for (i, c) in cases.enumerated() {
      checkGradients("conv case \(i)", inputs: [random(c.0), random(c.1)]) {
        $0[0].conv2d(weight: $0[1], stride: c.2, padding: c.3, dilation: c.4, groups: c.5)
      }
    }
  }

  func testDepthwiseConvolutionWithFusedReLU() {
    // Inputs kept away from 0 so ±h never crosses the ReLU kink.
    var values = (0..<(2 * 3 * 7 * 7)).map { _ in generator.nextUniform() * 0.8 + 0.2 }
    for i in values.indices where i % 3 == 0 { values[i] = -values[i] }
    let x = Tensor(shape: [2, 3, 7, 7], scalars: values, on: backend)
    for (stride, padding, dilation, k) in [(1, 1, 1, 3), (2, 2, 1, 5), (1, 4, 2, 5)] {
      let w = random([3, 1, k, k])
      checkGradients("fused relu dw k\(k) s\(stride)", inputs: [x, w]) {
        $0[0].conv2d(weight: $0[1], stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: 3, rectifyingInput: true)
      }
      let fused = withoutGradients { x.conv2d(weight: w, stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: 3, rectifyingInput: true) }
      let plain = withoutGradients { x.relu().conv2d(weight: w, stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: 3) }
      assertClose(fused.scalars, plain.scalars, rtol: 1e-6, atol: 1e-6)
    }
    // Dense and pointwise convolutions rectify into a temporary and recompute it backward.
    for (weightShape, stride, padding) in [([4, 3, 1, 1], 2, 0), ([2, 3, 3, 3], 1, 1)] {
      checkGradients("relu conv \(weightShape) s\(stride)", inputs: [x, random(weightShape)]) {
        $0[0].conv2d(weight: $0[1], stride: (stride, stride), padding: (padding, padding), rectifyingInput: true)
      }
    }
  }

  func testPooling() {
    // Distinct values spaced well apart so ±h never changes a window's maximum.
    var values = (0..<72).map { Float($0) * 0.1 }
    values.shuffle(using: &generator)
    let x = Tensor(shape: [2, 1, 6, 6], scalars: values, on: backend)
    checkGradients("max 3x3 s1", inputs: [x], step: 1e-2) { $0[0].maxPool2d(kernel: 3, stride: 1, padding: 1) }
    checkGradients("max 3x3 s2", inputs: [x], step: 1e-2) { $0[0].maxPool2d(kernel: 3, stride: 2, padding: 1) }
    checkGradients("max 2x2", inputs: [x], step: 1e-2) { $0[0].maxPool2d(kernel: 2, stride: 2) }
    let y = random([2, 2, 7, 7])
    checkGradients("avg 3x3 exclude pad", inputs: [y]) { $0[0].avgPool2d(kernel: 3, stride: 2, padding: 1, countIncludePad: false) }
    checkGradients("avg 3x3 include pad", inputs: [y]) { $0[0].avgPool2d(kernel: 3, stride: 1, padding: 1) }
    checkGradients("avg 5x5 s2", inputs: [y]) { $0[0].avgPool2d(kernel: 5, stride: 2) }
  }

  func testBatchNormTraining() {
    let x = random([3, 2, 3, 3], low: 0, high: 3)
    checkGradients("bn no affine", inputs: [x], step: 1e-2, rtol: 3e-2, atol: 5e-3) {
      $0[0].batchNormalized(gamma: nil, beta: nil).output
    }
    checkGradients("bn affine", inputs: [x, random([2], low: 0.5, high: 1.5), random([2])], step: 1e-2, rtol: 3e-2, atol: 5e-3) {
      $0[0].batchNormalized(gamma: $0[1], beta: $0[2]).output
    }
  }

  /// The consumers of an affine batch norm's deferred output (convolutions, ReLU, max pooling)
  /// (and drop path, which defers its product with them) recompute it in their backward rules
  /// instead of keeping it, and depthwise convolutions map
  /// the normalisation's input as they read it instead of forming it: outputs and gradients are
  /// bit-identical to those of consumers of a copy (`y · 1` is an ordinary tensor), also when a
  /// depthwise convolution and another reader share it, and the convolutions' match finite
  /// differences (away from the ReLU's kink: the kinks of ReLU and max pooling at BN outputs
  /// near 0 and near ties defeat a finite-difference step; their own rules are checked in
  /// `testUnaryFunctions` and `testPooling`).
  func testConsumersOfAnAffineBatchNormRecomputeItExactly() {
    let x = random([3, 4, 6, 6], low: 0, high: 3)
    let (gamma, beta) = (random([4], low: 0.5, high: 1.5), random([4]))
    // The same drop-path mask at every call, dropping some of the three images and keeping some.
    func droppingPaths(_ y: Tensor) -> Tensor {
      var generator = SeededGenerator(seed: 2)
      return y.droppingPath(probability: 0.5, generator: &generator)
    }
    let imagesKept = Set(droppingPaths(Tensor(repeating: 1, shape: [3, 1, 1, 1], on: x.backend)).scalars)
    XCTAssertEqual(imagesKept, [0, 2])
    let consumers: [(String, (Tensor, Tensor) -> Tensor)] = [
      ("relu dw conv", { y, w in y.conv2d(weight: w, padding: (1, 1), groups: 4, rectifyingInput: true) }),
      ("dw conv stride 2 dilation 2", { y, w in y.conv2d(weight: w, stride: (2, 2), padding: (2, 2), dilation: (2, 2), groups: 4) }),
      ("relu dw conv and a skip", { y, w in y.conv2d(weight: w, padding: (1, 1), groups: 4, rectifyingInput: true) + y }),
      ("drop path", { y, _ in droppingPaths(y) }),
      ("drop path, relu dw conv", { y, w in droppingPaths(y).conv2d(weight: w, padding: (1, 1), groups: 4, rectifyingInput: true) }),
      ("dense conv", { y, w in y.conv2d(weight: w.reshaped(to: [1, 4, 3, 3]), padding: (1, 1)) }),
      ("relu", { y, _ in y.relu() }),
      ("max pool", { y, _ in y.maxPool2d(kernel: 3, stride: 2, padding: 1) }),
    ]
    let w = random([4, 1, 3, 3])
    for (name, consumer) in consumers {
      if name.contains("conv") || name == "drop path" {
        // β = 4 + … keeps every BN output positive, away from the ReLU's kink.
        checkGradients("bn → \(name)", inputs: [x, gamma, beta + 4, w], step: 1e-2, rtol: 3e-2, atol: 5e-3) {
          consumer($0[0].batchNormalized(gamma: $0[1], beta: $0[2]).output, $0[3])
        }
      }
      let leaves = [x, gamma, beta, w].map { $0.requiringGradient() }
      func normalized() -> Tensor { leaves[0].batchNormalized(gamma: leaves[1], beta: leaves[2]).output }
      let seed = random(withoutGradients { consumer(normalized(), w) }.shape)
      XCTAssertEqual(consumer(normalized(), leaves[3]).scalars, consumer(normalized() * 1, leaves[3]).scalars, name)
      let recomputed = gradients(of: consumer(normalized(), leaves[3]), wrt: leaves, seed: seed)
      let kept = gradients(of: consumer(normalized() * 1, leaves[3]), wrt: leaves, seed: seed)
      XCTAssertNotEqual(recomputed[0].scalars, [Float](repeating: 0, count: x.count), name)
      for (a, b) in zip(recomputed, kept) { XCTAssertEqual(a.scalars, b.scalars, name) }
    }
  }

  func testPerChannelAffine() {
    checkGradients("per-channel affine", inputs: [random([2, 3, 4, 5]), random([3]), random([3])]) {
      $0[0].scaledPerChannel(scale: $0[1], shift: $0[2])
    }
  }

  func testMatmulAndLinear() {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
      let a = random(ta ? [4, 3] : [3, 4])
      let b = random(tb ? [5, 4] : [4, 5])
      checkGradients("matmul \(ta) \(tb)", inputs: [a, b]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
    }
    checkGradients("linear", inputs: [random([3, 4]), random([5, 4]), random([5])]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
  }

  func testSoftmaxAndLosses() {
    checkGradients("log softmax last", inputs: [random([3, 5], low: -3, high: 3)]) { $0[0].logSoftmax() }
    checkGradients("softmax axis 1", inputs: [random([2, 4, 3], low: -3, high: 3)]) { $0[0].softmax(alongAxis: 1) }
    checkGradients("cross entropy", inputs: [random([4, 6], low: -3, high: 3)]) { $0[0].crossEntropy(labels: [0, 5, 2, 2]) }
    checkGradients("cross entropy smoothing", inputs: [random([4, 6], low: -3, high: 3)]) {
      $0[0].crossEntropy(labels: [1, 3, 0, 5], labelSmoothing: 0.1)
    }
  }

  func testDropoutAndDropPathUseTheirMask() {
    checkGradients("dropout", inputs: [random([4, 5])]) {
      var g = SeededGenerator(seed: 3)
      return $0[0].dropout(probability: 0.3, generator: &g)
    }
    checkGradients("drop path", inputs: [random([4, 2, 2, 2])]) {
      var g = SeededGenerator(seed: 4)
      return $0[0].droppingPath(probability: 0.5, generator: &g)
    }
    var g = SeededGenerator(seed: 5)
    let x = Tensor(repeating: 1, shape: [1000, 1, 1, 1], on: backend)
    let y = x.droppingPath(probability: 0.2, generator: &g).scalars
    XCTAssert(Set(y).isSubset(of: [0, 1.25]), "drop path keeps samples scaled by 1/keep")
    XCTAssertEqual(Float(y.filter { $0 == 0 }.count) / 1000, 0.2, accuracy: 0.05)
  }
}
