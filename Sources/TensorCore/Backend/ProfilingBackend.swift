import Dispatch
import Synchronization

/// A backend that runs every primitive on another backend and tallies, per `KernelClass`, the
/// calls, the wall time inside them, and the FLOPs and bytes they must move: where a step's
/// time goes (`darts bench train --profile`, `darts bench search --profile`).
///
/// Tensors created on it behave exactly as on the wrapped backend: storage is the wrapped
/// backend's and every primitive is the wrapped backend's, called with the same arguments, so
/// results are bit-identical. What it adds per call is two reads of the monotonic clock and
/// one update of an array slot under a lock.
///
/// What is counted. FLOPs (2·multiply-adds) for convolutions (`2·N·C_out·H_out·W_out·
/// (C_in/groups)·k_h·k_w` for each of the three passes) and matrix products (`2·m·n·k`); the
/// other primitives are memory-bound and count none. Bytes are the minimum traffic: every
/// tensor a call reads or writes counted once (float32; both directions of a tensor that is
/// updated in place; distinct elements only, so a broadcast operand counts its own size). The
/// time of freeing buffers, of the graph and of everything between primitives is not inside
/// any call: a step's time minus the tallied time is its bookkeeping.
///
/// Calls from several threads at once are tallied correctly, but their times then overlap.
public final class ProfilingBackend: Backend {
  /// The backend that holds the storage and runs the primitives.
  public let wrapped: any Backend
  private let tallies = Mutex(KernelProfile())

  /// Wraps `backend`; tensors must then be created on this backend, not on `backend`.
  public init(wrapping backend: any Backend) {
    wrapped = backend
  }

  public var name: String { "profiled \(wrapped.name)" }

  public var memory: any MemoryAccounting { wrapped.memory }

  /// The tallies since creation or the last `resetProfile()`.
  public var profile: KernelProfile { tallies.withLock { $0 } }

  /// Starts the tallies afresh.
  public func resetProfile() {
    tallies.withLock { $0 = KernelProfile() }
  }

  public func allocate(_ count: Int) -> TensorStorage {
    timed(.allocation, bytes: 0) { wrapped.allocate(count) }
  }

  /// Runs `body` and adds its wall time, `flops` and `bytes` to `kind`'s tally.
  @inline(__always)
  private func timed<R>(_ kind: KernelClass, flops: Int = 0, bytes: Int, _ body: () throws -> R) rethrows -> R {
    let start = DispatchTime.now().uptimeNanoseconds
    let result = try body()
    let elapsed = DispatchTime.now().uptimeNanoseconds - start
    tallies.withLock { profile in
      profile.tallies[kind.rawValue].calls += 1
      profile.tallies[kind.rawValue].nanoseconds += elapsed
      profile.tallies[kind.rawValue].flops += flops
      profile.tallies[kind.rawValue].bytes += bytes
    }
    return result
  }
}

/// Bytes of `count` float32 values.
private func bytes(_ count: Int) -> Int { count * MemoryLayout<Float>.stride }

/// The distinct elements a strided operand covers over `shape`: axes of stride 0 re-read (or,
/// accumulating, re-write) one element.
private func distinct(_ shape: [Int], _ strides: [Int]) -> Int {
  zip(shape, strides).reduce(1) { $0 * ($1.1 == 0 ? 1 : $1.0) }
}

// MARK: Host transfers

extension ProfilingBackend {
  public func upload(_ source: UnsafeBufferPointer<Float>, to storage: TensorStorage) {
    timed(.upload, bytes: bytes(source.count)) { wrapped.upload(source, to: storage) }
  }

  /// The time includes `body`'s.
  public func withHostElements<R>(of storage: TensorStorage, count: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try timed(.hostRead, bytes: bytes(count)) { try wrapped.withHostElements(of: storage, count: count, body) }
  }
}

// MARK: Element-wise

extension ProfilingBackend {
  public func fill(_ out: BufferPosition, value: Float, count: Int) {
    timed(.fill, bytes: bytes(count)) { wrapped.fill(out, value: value, count: count) }
  }

  public func copy(_ source: TensorStorage, to destination: TensorStorage, count: Int) {
    timed(.copy, bytes: bytes(2 * count)) { wrapped.copy(source, to: destination, count: count) }
  }

  public func binary(_ operation: BinaryOperation, _ a: TensorStorage, _ b: TensorStorage, out: TensorStorage, count: Int) {
    timed(.binary, bytes: bytes(3 * count)) { wrapped.binary(operation, a, b, out: out, count: count) }
  }

  public func affine(_ x: TensorStorage, scale: Float, shift: Float, out: TensorStorage, count: Int) {
    timed(.affine, bytes: bytes(2 * count)) { wrapped.affine(x, scale: scale, shift: shift, out: out, count: count) }
  }

  public func relu(_ x: TensorStorage, out: TensorStorage, count: Int) {
    timed(.relu, bytes: bytes(2 * count)) { wrapped.relu(x, out: out, count: count) }
  }

  public func reluBackward(input: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage, count: Int) {
    timed(.reluBackward, bytes: bytes(3 * count)) {
      wrapped.reluBackward(input: input, gradOutput: gradOutput, gradInput: gradInput, count: count)
    }
  }

  public func activation(_ f: Activation, _ x: TensorStorage, out: TensorStorage, count: Int) {
    timed(.activation, bytes: bytes(2 * count)) { wrapped.activation(f, x, out: out, count: count) }
  }

  public func activationBackward(_ f: Activation, output: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage, count: Int) {
    timed(.activationBackward, bytes: bytes(3 * count)) {
      wrapped.activationBackward(f, output: output, gradOutput: gradOutput, gradInput: gradInput, count: count)
    }
  }

  public func gatherRows(table: TensorStorage, rowLength: Int, indices: [Int], out: TensorStorage) {
    timed(.gatherRows, bytes: bytes(2 * indices.count * rowLength)) {
      wrapped.gatherRows(table: table, rowLength: rowLength, indices: indices, out: out)
    }
  }

  public func scatterAddRows(_ rows: TensorStorage, rowLength: Int, indices: [Int], into table: TensorStorage) {
    timed(.scatterAddRows, bytes: bytes(3 * indices.count * rowLength)) {
      wrapped.scatterAddRows(rows, rowLength: rowLength, indices: indices, into: table)
    }
  }

  public func exp(_ x: TensorStorage, out: TensorStorage, count: Int) {
    timed(.exp, bytes: bytes(2 * count)) { wrapped.exp(x, out: out, count: count) }
  }

  public func log(_ x: TensorStorage, out: TensorStorage, count: Int) {
    timed(.log, bytes: bytes(2 * count)) { wrapped.log(x, out: out, count: count) }
  }

  public func weightedSum(_ sources: [TensorStorage], weights: [Float], out: TensorStorage, count: Int) {
    timed(.weightedSum, bytes: bytes((sources.count + 1) * count)) { wrapped.weightedSum(sources, weights: weights, out: out, count: count) }
  }
}

// MARK: Strided

extension ProfilingBackend {
  public func stridedCopy(
    shape: [Int], source: BufferPosition, sourceStrides: [Int],
    destination: BufferPosition, destinationStrides: [Int], accumulate: Bool
  ) {
    let elements = distinct(shape, sourceStrides) + distinct(shape, destinationStrides) * (accumulate ? 2 : 1)
    timed(.stridedCopy, bytes: bytes(elements)) {
      wrapped.stridedCopy(
        shape: shape, source: source, sourceStrides: sourceStrides, destination: destination,
        destinationStrides: destinationStrides, accumulate: accumulate)
    }
  }

  public func stridedBinary(
    _ operation: BinaryOperation, shape: [Int], a: TensorStorage, aStrides: [Int],
    b: TensorStorage, bStrides: [Int], out: TensorStorage
  ) {
    let elements = distinct(shape, aStrides) + distinct(shape, bStrides) + shape.reduce(1, *)
    timed(.stridedBinary, bytes: bytes(elements)) {
      wrapped.stridedBinary(operation, shape: shape, a: a, aStrides: aStrides, b: b, bStrides: bStrides, out: out)
    }
  }

  public func stridedWeightedSum(
    shape: [Int], sources: [BufferPosition], sourceStrides: [[Int]], weights: [Float],
    destination: BufferPosition, destinationStrides: [Int]
  ) {
    let elements = sourceStrides.reduce(distinct(shape, destinationStrides)) { $0 + distinct(shape, $1) }
    timed(.stridedWeightedSum, bytes: bytes(elements)) {
      wrapped.stridedWeightedSum(
        shape: shape, sources: sources, sourceStrides: sourceStrides, weights: weights, destination: destination,
        destinationStrides: destinationStrides)
    }
  }

  public func stridedWeightedSumBackward(
    shape: [Int], gradient: BufferPosition, gradientStrides: [Int],
    sources: [BufferPosition], sourceStrides: [[Int]], weights: [Float],
    gradInputs: [TensorStorage?], gradInputStrides: [[Int]], needWeightGradient: Bool
  ) -> [Double] {
    var elements = distinct(shape, gradientStrides)
    for (slot, strides) in zip(gradInputs, gradInputStrides) where slot != nil { elements += distinct(shape, strides) }
    if needWeightGradient { elements = sourceStrides.reduce(elements) { $0 + distinct(shape, $1) } }
    return timed(.stridedWeightedSumBackward, bytes: bytes(elements)) {
      wrapped.stridedWeightedSumBackward(
        shape: shape, gradient: gradient, gradientStrides: gradientStrides, sources: sources, sourceStrides: sourceStrides,
        weights: weights, gradInputs: gradInputs, gradInputStrides: gradInputStrides, needWeightGradient: needWeightGradient)
    }
  }
}

// MARK: Reductions

extension ProfilingBackend {
  public func sum(_ x: TensorStorage, count: Int) -> Double {
    timed(.sum, bytes: bytes(count)) { wrapped.sum(x, count: count) }
  }

  public func dot(_ a: TensorStorage, _ b: TensorStorage, count: Int) -> Double {
    timed(.dot, bytes: bytes(2 * count)) { wrapped.dot(a, b, count: count) }
  }

  public func allFinite(_ x: TensorStorage, count: Int) -> Bool {
    timed(.allFinite, bytes: bytes(count)) { wrapped.allFinite(x, count: count) }
  }

  public func rowMaximum(_ x: TensorStorage, rows: Int, length: Int, out: TensorStorage) {
    timed(.rowMaximum, bytes: bytes(rows * length + rows)) { wrapped.rowMaximum(x, rows: rows, length: length, out: out) }
  }
}

// MARK: Convolution, pooling, matrix products

extension ProfilingBackend {
  /// `2·N·C_out·H_out·W_out·(C_in/groups)·k_h·k_w`, the FLOPs of each pass of a convolution.
  static func convolutionFlops(_ g: ConvolutionGeometry) -> Int {
    2 * g.outputCount * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth
  }

  /// Input (with its channel map, if any), weight and output once: the least traffic of each
  /// pass of a convolution.
  private static func convolutionBytes(_ g: ConvolutionGeometry, _ input: ConvolutionInput?) -> Int {
    bytes(g.inputCount + g.weightCount + g.outputCount + (input.map { Self.mapCount($0, g) } ?? 0))
  }

  /// The scale and shift of a channel-mapped input (none without a map).
  private static func mapCount(_ input: ConvolutionInput, _ g: ConvolutionGeometry) -> Int {
    input.channelAffine == nil ? 0 : 2 * g.inChannels
  }

  public func convolutionForward(_ g: ConvolutionGeometry, input: ConvolutionInput, weight: TensorStorage, output: TensorStorage) {
    timed(.convolution(g, .forward), flops: Self.convolutionFlops(g), bytes: Self.convolutionBytes(g, input)) {
      wrapped.convolutionForward(g, input: input, weight: weight, output: output)
    }
  }

  /// Counts the rectified input's read when the gradient is masked by it.
  public func convolutionBackwardInput(
    _ g: ConvolutionGeometry, gradOutput: TensorStorage, weight: TensorStorage, gradInput: TensorStorage,
    rectifiedInput: ConvolutionInput?
  ) {
    let traffic = Self.convolutionBytes(g, nil) + (rectifiedInput.map { bytes(g.inputCount + Self.mapCount($0, g)) } ?? 0)
    timed(.convolution(g, .backwardInput), flops: Self.convolutionFlops(g), bytes: traffic) {
      wrapped.convolutionBackwardInput(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput, rectifiedInput: rectifiedInput)
    }
  }

  public func convolutionBackwardWeight(
    _ g: ConvolutionGeometry, input: ConvolutionInput, gradOutput: TensorStorage, gradWeight: TensorStorage
  ) {
    timed(.convolution(g, .backwardWeight), flops: Self.convolutionFlops(g), bytes: Self.convolutionBytes(g, input)) {
      wrapped.convolutionBackwardWeight(g, input: input, gradOutput: gradOutput, gradWeight: gradWeight)
    }
  }

  public func maxPoolForward(_ g: PoolGeometry, input: TensorStorage, output: TensorStorage) {
    timed(.maxPoolForward, bytes: bytes(g.inputCount + g.outputCount)) { wrapped.maxPoolForward(g, input: input, output: output) }
  }

  public func maxPoolBackward(_ g: PoolGeometry, input: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage) {
    timed(.maxPoolBackward, bytes: bytes(2 * g.inputCount + g.outputCount)) {
      wrapped.maxPoolBackward(g, input: input, gradOutput: gradOutput, gradInput: gradInput)
    }
  }

  public func averagePoolForward(_ g: PoolGeometry, countIncludePad: Bool, input: TensorStorage, output: TensorStorage) {
    timed(.averagePoolForward, bytes: bytes(g.inputCount + g.outputCount)) {
      wrapped.averagePoolForward(g, countIncludePad: countIncludePad, input: input, output: output)
    }
  }

  public func averagePoolBackward(_ g: PoolGeometry, countIncludePad: Bool, gradOutput: TensorStorage, gradInput: TensorStorage) {
    timed(.averagePoolBackward, bytes: bytes(g.inputCount + g.outputCount)) {
      wrapped.averagePoolBackward(g, countIncludePad: countIncludePad, gradOutput: gradOutput, gradInput: gradInput)
    }
  }

  public func matrixMultiply(
    m: Int, n: Int, k: Int, a: TensorStorage, lda: Int, transposeA: Bool,
    b: TensorStorage, ldb: Int, transposeB: Bool, c: TensorStorage, ldc: Int
  ) {
    timed(.matrixMultiply, flops: 2 * m * n * k, bytes: bytes(m * k + k * n + m * n)) {
      wrapped.matrixMultiply(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB, c: c, ldc: ldc)
    }
  }
}

// MARK: Batch normalisation

extension ProfilingBackend {
  public func batchNormStatistics(input: TensorStorage, batch: Int, channels: Int, spatial: Int, mean: TensorStorage, variance: TensorStorage) {
    timed(.batchNormStatistics, bytes: bytes(batch * channels * spatial + 2 * channels)) {
      wrapped.batchNormStatistics(input: input, batch: batch, channels: channels, spatial: spatial, mean: mean, variance: variance)
    }
  }

  public func batchNormCoefficients(
    mean: TensorStorage, variance: TensorStorage, gamma: TensorStorage?, beta: TensorStorage?, epsilon: Float,
    channels: Int, invStd: TensorStorage, scale: TensorStorage, shift: TensorStorage
  ) {
    let vectors = 5 + (gamma == nil ? 0 : 1) + (beta == nil ? 0 : 1)
    timed(.batchNormCoefficients, bytes: bytes(vectors * channels)) {
      wrapped.batchNormCoefficients(
        mean: mean, variance: variance, gamma: gamma, beta: beta, epsilon: epsilon, channels: channels, invStd: invStd,
        scale: scale, shift: shift)
    }
  }

  public func channelAffine(
    input: TensorStorage, scale: TensorStorage, shift: TensorStorage, sampleScale: TensorStorage?, output: TensorStorage,
    batch: Int, channels: Int, spatial: Int
  ) {
    timed(.channelAffine, bytes: bytes(2 * batch * channels * spatial + 2 * channels + (sampleScale == nil ? 0 : batch))) {
      wrapped.channelAffine(
        input: input, scale: scale, shift: shift, sampleScale: sampleScale, output: output, batch: batch, channels: channels,
        spatial: spatial)
    }
  }

  public func batchNormBackward(
    gradOutput: TensorStorage, input: TensorStorage, mean: TensorStorage, invStd: TensorStorage, gamma: TensorStorage?,
    gradInput: TensorStorage, gradGamma: TensorStorage, gradBeta: TensorStorage, batch: Int, channels: Int, spatial: Int
  ) {
    let vectors = 4 + (gamma == nil ? 0 : 1)
    timed(.batchNormBackward, bytes: bytes(3 * batch * channels * spatial + vectors * channels)) {
      wrapped.batchNormBackward(
        gradOutput: gradOutput, input: input, mean: mean, invStd: invStd, gamma: gamma, gradInput: gradInput,
        gradGamma: gradGamma, gradBeta: gradBeta, batch: batch, channels: channels, spatial: spatial)
    }
  }
}

// MARK: Updates

extension ProfilingBackend {
  /// Reads the weight, gradient and momentum buffer and writes the weight and buffer (the
  /// first step does not read the buffer).
  public func sgdStep(
    weight: TensorStorage, gradient: TensorStorage, momentumBuffer: TensorStorage, count: Int,
    learningRate: Float, momentum: Float, weightDecay: Float, firstStep: Bool
  ) {
    timed(.sgdStep, bytes: bytes((firstStep ? 4 : 5) * count)) {
      wrapped.sgdStep(
        weight: weight, gradient: gradient, momentumBuffer: momentumBuffer, count: count, learningRate: learningRate,
        momentum: momentum, weightDecay: weightDecay, firstStep: firstStep)
    }
  }

  public func adamStep(
    weight: TensorStorage, gradient: TensorStorage, firstMoment: TensorStorage, secondMoment: TensorStorage,
    count: Int, step t: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
  ) {
    timed(.adamStep, bytes: bytes(7 * count)) {
      wrapped.adamStep(
        weight: weight, gradient: gradient, firstMoment: firstMoment, secondMoment: secondMoment, count: count, step: t,
        learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
    }
  }

  public func runningAverage(_ running: TensorStorage, toward batch: TensorStorage, count: Int, momentum: Float, scale: Float) {
    timed(.runningAverage, bytes: bytes(3 * count)) {
      wrapped.runningAverage(running, toward: batch, count: count, momentum: momentum, scale: scale)
    }
  }
}
