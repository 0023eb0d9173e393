import CPUKernels

/// The reference backend: every primitive as the plain, single-threaded loop of
/// `CPUKernels/Reference` that defines its semantics, over host memory. It exists to check the
/// fast backends: the same step run on it and on `CPUBackend` must agree within floating-point
/// reordering (see the backend-equivalence tests). Many times slower than `CPUBackend`; select
/// it with `--backend reference` to check a result, never to produce one.
public final class ReferenceBackend: HostMemoryBackend {
  public let cache = BufferCache()

  public init() {}

  public var name: String { "reference" }
}

// MARK: Element-wise

extension ReferenceBackend {
  public func fill(_ out: BufferPosition, value: Float, count: Int) {
    ReferenceElementwise.fill(out.storage.pointer + out.offset, value: value, count: count)
  }

  public func copy(_ source: TensorStorage, to destination: TensorStorage, count: Int) {
    ReferenceElementwise.copy(source.pointer, destination.pointer, count: count)
  }

  public func binary(_ operation: BinaryOperation, _ a: TensorStorage, _ b: TensorStorage, out: TensorStorage, count: Int) {
    switch operation {
    case .add: ReferenceElementwise.add(a.pointer, b.pointer, out.pointer, count: count)
    case .subtract: ReferenceElementwise.subtract(a.pointer, b.pointer, out.pointer, count: count)
    case .multiply: ReferenceElementwise.multiply(a.pointer, b.pointer, out.pointer, count: count)
    case .divide: ReferenceElementwise.divide(a.pointer, b.pointer, out.pointer, count: count)
    }
  }

  public func affine(_ x: TensorStorage, scale: Float, shift: Float, out: TensorStorage, count: Int) {
    ReferenceElementwise.affine(x.pointer, scale: scale, shift: shift, out.pointer, count: count)
  }

  public func relu(_ x: TensorStorage, out: TensorStorage, count: Int) {
    ReferenceElementwise.relu(x.pointer, out.pointer, count: count)
  }

  public func reluBackward(input: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage, count: Int) {
    ReferenceElementwise.reluBackward(input: input.pointer, gradOutput: gradOutput.pointer, gradInput: gradInput.pointer, count: count)
  }

  public func activation(_ f: Activation, _ x: TensorStorage, out: TensorStorage, count: Int) {
    ReferenceElementwise.activation(f, x.pointer, out.pointer, count: count)
  }

  public func activationBackward(_ f: Activation, output: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage, count: Int) {
    ReferenceElementwise.activationBackward(f, output: output.pointer, gradOutput: gradOutput.pointer, gradInput: gradInput.pointer, count: count)
  }

  public func gatherRows(table: TensorStorage, rowLength: Int, indices: [Int], out: TensorStorage) {
    ReferenceRowGather.gather(table: table.pointer, rowLength: rowLength, indices: indices, out: out.pointer)
  }

  public func scatterAddRows(_ rows: TensorStorage, rowLength: Int, indices: [Int], into table: TensorStorage) {
    ReferenceRowGather.scatterAdd(rows: rows.pointer, rowLength: rowLength, indices: indices, into: table.pointer)
  }

  public func exp(_ x: TensorStorage, out: TensorStorage, count: Int) {
    ReferenceElementwise.exp(x.pointer, out.pointer, count: count)
  }

  public func log(_ x: TensorStorage, out: TensorStorage, count: Int) {
    ReferenceElementwise.log(x.pointer, out.pointer, count: count)
  }

  public func weightedSum(_ sources: [TensorStorage], weights: [Float], out: TensorStorage, count: Int) {
    ReferenceElementwise.weightedSum(sources.map { UnsafePointer($0.pointer) }, weights: weights, out.pointer, count: count)
  }
}

// MARK: Strided

extension ReferenceBackend {
  public func stridedCopy(
    shape: [Int], source: BufferPosition, sourceStrides: [Int],
    destination: BufferPosition, destinationStrides: [Int], accumulate: Bool
  ) {
    ReferenceStridedLoops.copy(
      shape: shape, source: source.storage.pointer + source.offset, sourceStrides: sourceStrides,
      destination: destination.storage.pointer + destination.offset, destinationStrides: destinationStrides,
      accumulate: accumulate)
  }

  public func stridedBinary(
    _ operation: BinaryOperation, shape: [Int], a: TensorStorage, aStrides: [Int],
    b: TensorStorage, bStrides: [Int], out: TensorStorage
  ) {
    ReferenceStridedLoops.binary(operation, shape: shape, a: a.pointer, aStrides: aStrides, b: b.pointer, bStrides: bStrides, out: out.pointer)
  }

  public func stridedWeightedSum(
    shape: [Int], sources: [BufferPosition], sourceStrides: [[Int]], weights: [Float],
    destination: BufferPosition, destinationStrides: [Int]
  ) {
    ReferenceStridedLoops.weightedSum(
      shape: shape, sources: sources.map { UnsafePointer($0.storage.pointer + $0.offset) }, sourceStrides: sourceStrides,
      weights: weights, destination: destination.storage.pointer + destination.offset,
      destinationStrides: destinationStrides)
  }

  public func stridedWeightedSumBackward(
    shape: [Int], gradient: BufferPosition, gradientStrides: [Int],
    sources: [BufferPosition], sourceStrides: [[Int]], weights: [Float],
    gradInputs: [TensorStorage?], gradInputStrides: [[Int]], needWeightGradient: Bool
  ) -> [Double] {
    ReferenceStridedLoops.weightedSumBackward(
      shape: shape, gradient: gradient.storage.pointer + gradient.offset, gradientStrides: gradientStrides,
      sources: sources.map { UnsafePointer($0.storage.pointer + $0.offset) }, sourceStrides: sourceStrides,
      weights: weights, gradInputs: gradInputs.map { $0?.pointer }, gradInputStrides: gradInputStrides,
      needWeightGradient: needWeightGradient)
  }
}

// MARK: Reductions

extension ReferenceBackend {
  public func sum(_ x: TensorStorage, count: Int) -> Double {
    ReferenceReductions.sum(x.pointer, count: count)
  }

  public func dot(_ a: TensorStorage, _ b: TensorStorage, count: Int) -> Double {
    ReferenceReductions.dot(a.pointer, b.pointer, count: count)
  }

  public func allFinite(_ x: TensorStorage, count: Int) -> Bool {
    ReferenceReductions.allFinite(x.pointer, count: count)
  }
}

// MARK: Convolution, pooling, matrix products

extension ReferenceBackend {
  public func convolutionForward(_ g: ConvolutionGeometry, input: ConvolutionInput, weight: TensorStorage, output: TensorStorage) {
    let x = readValues(input, g, rectifying: input.rectified)
    ReferenceConvolution.forward(g, input: x.pointer, weight: weight.pointer, output: output.pointer)
  }

  public func convolutionBackwardInput(
    _ g: ConvolutionGeometry, gradOutput: TensorStorage, weight: TensorStorage, gradInput: TensorStorage,
    rectifiedInput: ConvolutionInput?
  ) {
    ReferenceConvolution.backwardInput(g, gradOutput: gradOutput.pointer, weight: weight.pointer, gradInput: gradInput.pointer)
    if let rectifiedInput {
      let gate = readValues(rectifiedInput, g, rectifying: false)
      ReferenceElementwise.reluBackward(input: gate.pointer, gradOutput: gradInput.pointer, gradInput: gradInput.pointer, count: g.inputCount)
    }
  }

  public func convolutionBackwardWeight(
    _ g: ConvolutionGeometry, input: ConvolutionInput, gradOutput: TensorStorage, gradWeight: TensorStorage
  ) {
    let x = readValues(input, g, rectifying: input.rectified)
    ReferenceConvolution.backwardWeight(g, input: x.pointer, gradOutput: gradOutput.pointer, gradWeight: gradWeight.pointer)
  }

  /// The values a convolution reads from `input`, formed in full: mapped by its channel map,
  /// then rectified when `rectifying`.
  private func readValues(_ input: ConvolutionInput, _ g: ConvolutionGeometry, rectifying: Bool) -> TensorStorage {
    var values = input.values
    if let (scale, shift) = input.channelAffine {
      let mapped = allocate(g.inputCount)
      channelAffine(
        input: values, scale: scale, shift: shift, sampleScale: nil, output: mapped, batch: g.batch, channels: g.inChannels,
        spatial: g.inHeight * g.inWidth)
      values = mapped
    }
    guard rectifying else { return values }
    let rectified = allocate(g.inputCount)
    ReferenceElementwise.relu(values.pointer, rectified.pointer, count: g.inputCount)
    return rectified
  }

  public func maxPoolForward(_ g: PoolGeometry, input: TensorStorage, output: TensorStorage) {
    ReferencePooling.maxForward(g, input: input.pointer, output: output.pointer)
  }

  public func maxPoolBackward(_ g: PoolGeometry, input: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage) {
    ReferencePooling.maxBackward(g, input: input.pointer, gradOutput: gradOutput.pointer, gradInput: gradInput.pointer)
  }

  public func averagePoolForward(_ g: PoolGeometry, countIncludePad: Bool, input: TensorStorage, output: TensorStorage) {
    ReferencePooling.averageForward(g, countIncludePad: countIncludePad, input: input.pointer, output: output.pointer)
  }

  public func averagePoolBackward(_ g: PoolGeometry, countIncludePad: Bool, gradOutput: TensorStorage, gradInput: TensorStorage) {
    ReferencePooling.averageBackward(g, countIncludePad: countIncludePad, gradOutput: gradOutput.pointer, gradInput: gradInput.pointer)
  }

  public func matrixMultiply(
    m: Int, n: Int, k: Int, a: TensorStorage, lda: Int, transposeA: Bool,
    b: TensorStorage, ldb: Int, transposeB: Bool, c: TensorStorage, ldc: Int
  ) {
    ReferenceGEMM.multiply(
      m: m, n: n, k: k, a: a.pointer, lda: lda, transposeA: transposeA, b: b.pointer, ldb: ldb,
      transposeB: transposeB, c: c.pointer, ldc: ldc, accumulate: false)
  }
}

// MARK: Batch normalisation

extension ReferenceBackend {
  public func batchNormStatistics(input: TensorStorage, batch: Int, channels: Int, spatial: Int, mean: TensorStorage, variance: TensorStorage) {
    ReferenceBatchNorm.statistics(input: input.pointer, batch: batch, channels: channels, spatial: spatial, mean: mean.pointer, variance: variance.pointer)
  }

  public func channelAffine(
    input: TensorStorage, scale: TensorStorage, shift: TensorStorage, sampleScale: TensorStorage?, output: TensorStorage,
    batch: Int, channels: Int, spatial: Int
  ) {
    ReferenceBatchNorm.channelAffine(
      input: input.pointer, scale: scale.pointer, shift: shift.pointer, output: output.pointer, batch: batch,
      channels: channels, spatial: spatial, sampleScale: sampleScale?.pointer)
  }

  public func batchNormBackward(
    gradOutput: TensorStorage, input: TensorStorage, mean: TensorStorage, invStd: TensorStorage, gamma: TensorStorage?,
    gradInput: TensorStorage, gradGamma: TensorStorage, gradBeta: TensorStorage, batch: Int, channels: Int, spatial: Int
  ) {
    ReferenceBatchNorm.backward(
      gradOutput: gradOutput.pointer, input: input.pointer, mean: mean.pointer, invStd: invStd.pointer,
      gamma: gamma.map { UnsafePointer($0.pointer) }, gradInput: gradInput.pointer, gradGamma: gradGamma.pointer,
      gradBeta: gradBeta.pointer, batch: batch, channels: channels, spatial: spatial)
  }
}

// MARK: Updates

extension ReferenceBackend {
  public func sgdStep(
    weight: TensorStorage, gradient: TensorStorage, momentumBuffer: TensorStorage, count: Int,
    learningRate: Float, momentum: Float, weightDecay: Float, firstStep: Bool
  ) {
    ReferenceOptimizer.sgdStep(
      weight: weight.pointer, gradient: gradient.pointer, momentumBuffer: momentumBuffer.pointer, count: count,
      learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, firstStep: firstStep)
  }

  public func adamStep(
    weight: TensorStorage, gradient: TensorStorage, firstMoment: TensorStorage, secondMoment: TensorStorage,
    count: Int, step t: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
  ) {
    ReferenceOptimizer.adamStep(
      weight: weight.pointer, gradient: gradient.pointer, firstMoment: firstMoment.pointer, secondMoment: secondMoment.pointer,
      count: count, step: t, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
  }
}
