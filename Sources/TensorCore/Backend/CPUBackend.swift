import CPUKernels
import Foundation

/// The CPU backend: a caching allocator plus a persistent worker pool running the pure-Swift
/// SIMD kernels of `CPUKernels`. Thread-safe: tensors may be created on a loader thread while
/// a step runs.
public final class CPUBackend: HostMemoryBackend {
  /// The worker pool the kernels run on.
  let pool: WorkerPool
  public let cache = BufferCache()

  /// Creates a backend running kernels on `threads` threads (the caller plus workers).
  public init(threads: Int = 1) {
    pool = WorkerPool(threadCount: threads)
  }

  /// The threads the kernels run on, the calling thread included.
  public var threadCount: Int { pool.threadCount }

  public var name: String { "cpu(\(pool.threadCount) thread\(pool.threadCount == 1 ? "" : "s"))" }
}

extension CPUBackend {
  /// The most threads a backend may run: beyond this a pool only adds contention (and a
  /// thread count from a flag or a config file must not create tens of thousands of threads).
  public static let maximumThreads = 256

  /// One line saying why `threads` is not a usable thread count, or nil.
  public static func threadCountProblem(_ threads: Int) -> String? {
    (1...maximumThreads).contains(threads) ? nil : "--threads must be in 1...\(maximumThreads), got \(threads)"
  }

  /// A warning when `threads` is more than the machine's cores (the steps then run slower, as
  /// the pool's threads take turns on the cores), or nil.
  public static func threadCountWarning(_ threads: Int) -> String? {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    return threads > cores ? "warning: --threads \(threads) is more than the \(cores) cores of this machine; steps will run slower than with --threads \(cores)" : nil
  }
}

// MARK: Element-wise

extension CPUBackend {
  public func fill(_ out: BufferPosition, value: Float, count: Int) {
    Elementwise.fill(out.storage.pointer + out.offset, value: value, count: count, pool: pool)
  }

  public func copy(_ source: TensorStorage, to destination: TensorStorage, count: Int) {
    Elementwise.copy(source.pointer, destination.pointer, count: count, pool: pool)
  }

  public func binary(_ operation: BinaryOperation, _ a: TensorStorage, _ b: TensorStorage, out: TensorStorage, count: Int) {
    switch operation {
    case .add: Elementwise.add(a.pointer, b.pointer, out.pointer, count: count, pool: pool)
    case .subtract: Elementwise.subtract(a.pointer, b.pointer, out.pointer, count: count, pool: pool)
    case .multiply: Elementwise.multiply(a.pointer, b.pointer, out.pointer, count: count, pool: pool)
    case .divide: Elementwise.divide(a.pointer, b.pointer, out.pointer, count: count, pool: pool)
    }
  }

  public func affine(_ x: TensorStorage, scale: Float, shift: Float, out: TensorStorage, count: Int) {
    Elementwise.affine(x.pointer, scale: scale, shift: shift, out.pointer, count: count, pool: pool)
  }

  public func relu(_ x: TensorStorage, out: TensorStorage, count: Int) {
    Elementwise.relu(x.pointer, out.pointer, count: count, pool: pool)
  }

  public func reluBackward(input: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage, count: Int) {
    Elementwise.reluBackward(input: input.pointer, gradOutput: gradOutput.pointer, gradInput: gradInput.pointer, count: count, pool: pool)
  }

  public func activation(_ f: Activation, _ x: TensorStorage, out: TensorStorage, count: Int) {
    Elementwise.activation(f, x.pointer, out.pointer, count: count, pool: pool)
  }

  public func activationBackward(_ f: Activation, output: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage, count: Int) {
    Elementwise.activationBackward(f, output: output.pointer, gradOutput: gradOutput.pointer, gradInput: gradInput.pointer, count: count, pool: pool)
  }

  public func gatherRows(table: TensorStorage, rowLength: Int, indices: [Int], out: TensorStorage) {
    RowGather.gather(table: table.pointer, rowLength: rowLength, indices: indices, out: out.pointer, pool: pool)
  }

  public func scatterAddRows(_ rows: TensorStorage, rowLength: Int, indices: [Int], into table: TensorStorage) {
    RowGather.scatterAdd(rows: rows.pointer, rowLength: rowLength, indices: indices, into: table.pointer, pool: pool)
  }

  public func exp(_ x: TensorStorage, out: TensorStorage, count: Int) {
    Elementwise.exp(x.pointer, out.pointer, count: count, pool: pool)
  }

  public func log(_ x: TensorStorage, out: TensorStorage, count: Int) {
    Elementwise.log(x.pointer, out.pointer, count: count, pool: pool)
  }

  public func weightedSum(_ sources: [TensorStorage], weights: [Float], out: TensorStorage, count: Int) {
    Elementwise.weightedSum(sources.map { UnsafePointer($0.pointer) }, weights: weights, out.pointer, count: count, pool: pool)
  }
}

// MARK: Strided

extension CPUBackend {
  public func stridedCopy(
    shape: [Int], source: BufferPosition, sourceStrides: [Int],
    destination: BufferPosition, destinationStrides: [Int], accumulate: Bool
  ) {
    StridedLoops.copy(
      shape: shape, source: source.storage.pointer + source.offset, sourceStrides: sourceStrides,
      destination: destination.storage.pointer + destination.offset, destinationStrides: destinationStrides,
      accumulate: accumulate, pool: pool)
  }

  public func stridedBinary(
    _ operation: BinaryOperation, shape: [Int], a: TensorStorage, aStrides: [Int],
    b: TensorStorage, bStrides: [Int], out: TensorStorage
  ) {
    StridedLoops.binary(operation, shape: shape, a: a.pointer, aStrides: aStrides, b: b.pointer, bStrides: bStrides, out: out.pointer, pool: pool)
  }

  public func stridedWeightedSum(
    shape: [Int], sources: [BufferPosition], sourceStrides: [[Int]], weights: [Float],
    destination: BufferPosition, destinationStrides: [Int]
  ) {
    StridedLoops.weightedSum(
      shape: shape, sources: sources.map { UnsafePointer($0.storage.pointer + $0.offset) }, sourceStrides: sourceStrides,
      weights: weights, destination: destination.storage.pointer + destination.offset,
      destinationStrides: destinationStrides, pool: pool)
  }

  public func stridedWeightedSumBackward(
    shape: [Int], gradient: BufferPosition, gradientStrides: [Int],
    sources: [BufferPosition], sourceStrides: [[Int]], weights: [Float],
    gradInputs: [TensorStorage?], gradInputStrides: [[Int]], needWeightGradient: Bool
  ) -> [Double] {
    StridedLoops.weightedSumBackward(
      shape: shape, gradient: gradient.storage.pointer + gradient.offset, gradientStrides: gradientStrides,
      sources: sources.map { UnsafePointer($0.storage.pointer + $0.offset) }, sourceStrides: sourceStrides,
      weights: weights, gradInputs: gradInputs.map { $0?.pointer }, gradInputStrides: gradInputStrides,
      needWeightGradient: needWeightGradient, pool: pool)
  }
}

// MARK: Reductions

extension CPUBackend {
  public func sum(_ x: TensorStorage, count: Int) -> Double {
    Elementwise.sum(x.pointer, count: count, pool: pool)
  }

  public func dot(_ a: TensorStorage, _ b: TensorStorage, count: Int) -> Double {
    Elementwise.dot(a.pointer, b.pointer, count: count, pool: pool)
  }

  public func allFinite(_ x: TensorStorage, count: Int) -> Bool {
    Elementwise.allFinite(x.pointer, count: count)
  }
}

// MARK: Convolution, pooling, matrix products

extension CPUBackend {
  /// A ReLU in front of a pointwise or depthwise convolution is applied as the kernel reads
  /// (the ReLU → depthwise pair of every DARTS separable and dilated convolution, the ReLU →
  /// 1×1 preprocessing of the cells), and so is a batch normalisation's channel map in front
  /// of a depthwise one (the BN → ReLU → depthwise chain in the middle of every separable
  /// convolution); other kernels read a mapped or rectified copy in the pool's scratch memory,
  /// which is not a tensor and never fragments the allocator.
  public func convolutionForward(_ g: ConvolutionGeometry, input: ConvolutionInput, weight: TensorStorage, output: TensorStorage) {
    withInput(input, g) { x, read in
      Convolution.forward(
        g, input: x, weight: weight.pointer, output: output.pointer, pool: pool, rectifiedInput: read.rectified,
        inputAffine: read.affine)
    }
  }

  public func convolutionBackwardInput(
    _ g: ConvolutionGeometry, gradOutput: TensorStorage, weight: TensorStorage, gradInput: TensorStorage,
    rectifiedInput: ConvolutionInput?
  ) {
    if let rectifiedInput, g.isDepthwise {
      DepthwiseConvolution.backwardInput(
        g, gradOutput: gradOutput.pointer, weight: weight.pointer, gradInput: gradInput.pointer, pool: pool,
        rectifiedInput: rectifiedInput.values.pointer, inputAffine: Self.affineRead(rectifiedInput))
      return
    }
    Convolution.backwardInput(g, gradOutput: gradOutput.pointer, weight: weight.pointer, gradInput: gradInput.pointer, pool: pool)
    if let rectifiedInput {
      withMappedValues(rectifiedInput, g) { x in
        Elementwise.reluBackward(input: x, gradOutput: gradInput.pointer, gradInput: gradInput.pointer, count: g.inputCount, pool: pool)
      }
    }
  }

  public func convolutionBackwardWeight(
    _ g: ConvolutionGeometry, input: ConvolutionInput, gradOutput: TensorStorage, gradWeight: TensorStorage
  ) {
    withInput(input, g) { x, read in
      Convolution.backwardWeight(
        g, input: x, gradOutput: gradOutput.pointer, gradWeight: gradWeight.pointer, pool: pool,
        rectifiedInput: read.rectified, inputAffine: read.affine)
    }
  }

  private static func affineRead(_ input: ConvolutionInput) -> ChannelAffineRead? {
    input.channelAffine.map { ChannelAffineRead(scale: $0.scale.pointer, shift: $0.shift.pointer) }
  }

  /// Calls `body(x, read)` with the values a convolution kernel reads and what it applies to
  /// them as it reads (`read`): the input's own values with its channel map and ReLU, where the
  /// kernel fuses them (`Convolution.fusesChannelAffine`, `fusesRectification`), else a
  /// scratch copy with what the kernel does not fuse already applied.
  private func withInput(
    _ input: ConvolutionInput, _ g: ConvolutionGeometry,
    _ body: (UnsafePointer<Float>, (rectified: Bool, affine: ChannelAffineRead?)) -> Void
  ) {
    let affine = Self.affineRead(input)
    let mapHere = affine != nil && !Convolution.fusesChannelAffine(g)
    let rectifyHere = input.rectified && !Convolution.fusesRectification(g)
    guard mapHere || rectifyHere else {
      body(input.values.pointer, (input.rectified, affine))
      return
    }
    withMappedValues(input, g) { mapped in
      guard rectifyHere else {
        body(mapped, (input.rectified, nil))
        return
      }
      pool.withScratch(count: g.inputCount) { scratch in
        Elementwise.relu(mapped, scratch, count: g.inputCount, pool: pool)
        body(scratch, (false, nil))
      }
    }
  }

  /// Calls `body` with the input's values mapped by its channel map (a scratch copy), or with
  /// its values when it has none.
  private func withMappedValues(_ input: ConvolutionInput, _ g: ConvolutionGeometry, _ body: (UnsafePointer<Float>) -> Void) {
    guard let affine = Self.affineRead(input) else {
      body(input.values.pointer)
      return
    }
    pool.withScratch(count: g.inputCount) { scratch in
      affine.apply(
        input: input.values.pointer, output: scratch, batch: g.batch, channels: g.inChannels,
        spatial: g.inHeight * g.inWidth, pool: pool)
      body(scratch)
    }
  }

  public func maxPoolForward(_ g: PoolGeometry, input: TensorStorage, output: TensorStorage) {
    Pooling.maxForward(g, input: input.pointer, output: output.pointer, pool: pool)
  }

  public func maxPoolBackward(_ g: PoolGeometry, input: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage) {
    Pooling.maxBackward(g, input: input.pointer, gradOutput: gradOutput.pointer, gradInput: gradInput.pointer, pool: pool)
  }

  public func averagePoolForward(_ g: PoolGeometry, countIncludePad: Bool, input: TensorStorage, output: TensorStorage) {
    Pooling.averageForward(g, countIncludePad: countIncludePad, input: input.pointer, output: output.pointer, pool: pool)
  }

  public func averagePoolBackward(_ g: PoolGeometry, countIncludePad: Bool, gradOutput: TensorStorage, gradInput: TensorStorage) {
    Pooling.averageBackward(g, countIncludePad: countIncludePad, gradOutput: gradOutput.pointer, gradInput: gradInput.pointer, pool: pool)
  }

  public func matrixMultiply(
    m: Int, n: Int, k: Int, a: TensorStorage, lda: Int, transposeA: Bool,
    b: TensorStorage, ldb: Int, transposeB: Bool, c: TensorStorage, ldc: Int
  ) {
    GEMM.multiply(
      m: m, n: n, k: k, a: a.pointer, lda: lda, transposeA: transposeA, b: b.pointer, ldb: ldb,
      transposeB: transposeB, c: c.pointer, ldc: ldc, accumulate: false, pool: pool)
  }
}

// MARK: Batch normalisation

extension CPUBackend {
  public func batchNormStatistics(input: TensorStorage, batch: Int, channels: Int, spatial: Int, mean: TensorStorage, variance: TensorStorage) {
    BatchNormKernels.statistics(input: input.pointer, batch: batch, channels: channels, spatial: spatial, mean: mean.pointer, variance: variance.pointer, pool: pool)
  }

  public func channelAffine(
    input: TensorStorage, scale: TensorStorage, shift: TensorStorage, sampleScale: TensorStorage?, output: TensorStorage,
    batch: Int, channels: Int, spatial: Int
  ) {
    BatchNormKernels.channelAffine(
      input: input.pointer, scale: scale.pointer, shift: shift.pointer, output: output.pointer, batch: batch,
      channels: channels, spatial: spatial, sampleScale: sampleScale?.pointer, pool: pool)
  }

  public func batchNormBackward(
    gradOutput: TensorStorage, input: TensorStorage, mean: TensorStorage, invStd: TensorStorage, gamma: TensorStorage?,
    gradInput: TensorStorage, gradGamma: TensorStorage, gradBeta: TensorStorage, batch: Int, channels: Int, spatial: Int
  ) {
    BatchNormKernels.backward(
      gradOutput: gradOutput.pointer, input: input.pointer, mean: mean.pointer, invStd: invStd.pointer,
      gamma: gamma.map { UnsafePointer($0.pointer) }, gradInput: gradInput.pointer, gradGamma: gradGamma.pointer,
      gradBeta: gradBeta.pointer, batch: batch, channels: channels, spatial: spatial, pool: pool)
  }
}

// MARK: Updates

extension CPUBackend {
  public func sgdStep(
    weight: TensorStorage, gradient: TensorStorage, momentumBuffer: TensorStorage, count: Int,
    learningRate: Float, momentum: Float, weightDecay: Float, firstStep: Bool
  ) {
    OptimizerKernels.sgdStep(
      weight: weight.pointer, gradient: gradient.pointer, momentumBuffer: momentumBuffer.pointer, count: count,
      learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, firstStep: firstStep)
  }

  public func adamStep(
    weight: TensorStorage, gradient: TensorStorage, firstMoment: TensorStorage, secondMoment: TensorStorage,
    count: Int, step t: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
  ) {
    OptimizerKernels.adamStep(
      weight: weight.pointer, gradient: gradient.pointer, firstMoment: firstMoment.pointer, secondMoment: secondMoment.pointer,
      count: count, step: t, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
  }
}
