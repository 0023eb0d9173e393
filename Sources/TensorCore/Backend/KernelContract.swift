import CPUKernels

// The kernel contract: every primitive the tensor operations need, forward and backward. A
// backend implements all of them; `Tensor` operations check shapes, allocate their results
// through `Backend.allocate` and then call exactly one of these per kernel, on their operands'
// backend. This file is the list a new backend (a GPU) works through: see docs/BACKENDS.md.
//
// Conventions shared by every primitive:
// - Buffers are `TensorStorage` values allocated by the same backend, float32, row-major, and
//   NCHW for images (OIHW for convolution weights). A `BufferPosition` is a buffer plus an
//   element offset, for the primitives that read or write a part of a buffer.
// - Outputs are overwritten (never accumulated into) unless a parameter says otherwise, and are
//   fresh buffers that alias no input, except where a primitive says it updates in place.
// - Strides are in elements; a stride of 0 re-reads one element (broadcasting) or, for an
//   accumulating destination, sums over that axis.
// - Shapes have been checked by the caller: a primitive may assume its sizes are consistent.

/// The geometry of one 2-D convolution (batch, channels, spatial sizes, kernel, stride,
/// padding, dilation, groups); shared with the CPU kernels.
public typealias ConvolutionGeometry = CPUKernels.ConvolutionGeometry
/// The geometry of one square pooling window over `planes` image planes; shared with the CPU
/// kernels.
public typealias PoolGeometry = CPUKernels.PoolGeometry
/// Add, subtract, multiply or divide, for the element-wise binary primitives.
public typealias BinaryOperation = CPUKernels.StridedLoops.BinaryOperation
/// `σ` or `tanh`, for the activation primitives.
public typealias Activation = CPUKernels.Activation

/// The element strides of a contiguous row-major tensor of `shape` (the layout of every
/// tensor), as the strided primitives take them.
func contiguousStrides(_ shape: [Int]) -> [Int] { StridedLoops.contiguousStrides(shape) }

/// Elements of a backend buffer from element `offset` on: where a strided primitive starts
/// reading or writing.
public struct BufferPosition: @unchecked Sendable {
  public let storage: TensorStorage
  public let offset: Int

  public init(_ storage: TensorStorage, offset: Int = 0) {
    self.storage = storage
    self.offset = offset
  }
}

/// How a convolution reads its input `[N, C, H, W]`: the stored `values`, mapped per channel
/// when `channelAffine` is set (`values[n, c, …]·scale[c] + shift[c]`: the output of a
/// training-mode batch normalisation rebuilt from its input as it is read, exactly as
/// `channelAffine` computes it), then rectified (`max(·, 0)`, a ReLU in front of the
/// convolution) when `rectified`. Nothing read this way is stored.
public struct ConvolutionInput: @unchecked Sendable {
  public let values: TensorStorage
  /// `[C]` each.
  public let channelAffine: (scale: TensorStorage, shift: TensorStorage)?
  public let rectified: Bool

  public init(_ values: TensorStorage, channelAffine: (scale: TensorStorage, shift: TensorStorage)? = nil, rectified: Bool = false) {
    self.values = values
    self.channelAffine = channelAffine
    self.rectified = rectified
  }
}

/// Moving elements between host memory and a backend's buffers: the only places where values
/// cross between the program and the backend (tensor creation from host values, reading
/// results, files).
public protocol HostTransferPrimitives {
  /// `storage[i] = source[i]` for every element of `source` (a host-to-device copy).
  func upload(_ source: UnsafeBufferPointer<Float>, to storage: TensorStorage)
  /// Calls `body` with the first `count` elements of `storage` in host memory, valid only
  /// during the call: a host backend lends its buffer, a device backend copies into a host
  /// buffer first (one device-to-host transfer).
  func withHostElements<R>(of storage: TensorStorage, count: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R
}

/// Element-wise primitives over `count` contiguous elements.
public protocol ElementwisePrimitives {
  /// `out[i] = value` for `i` in `0..<count` from `out`'s position.
  func fill(_ out: BufferPosition, value: Float, count: Int)
  /// `destination[i] = source[i]`.
  func copy(_ source: TensorStorage, to destination: TensorStorage, count: Int)
  /// `out[i] = a[i] ∘ b[i]` for equally shaped operands.
  func binary(_ operation: BinaryOperation, _ a: TensorStorage, _ b: TensorStorage, out: TensorStorage, count: Int)
  /// `out[i] = x[i]·scale + shift`.
  func affine(_ x: TensorStorage, scale: Float, shift: Float, out: TensorStorage, count: Int)
  /// `out[i] = max(x[i], 0)` (NaN stays NaN).
  func relu(_ x: TensorStorage, out: TensorStorage, count: Int)
  /// `gradInput[i] = input[i] > 0 ? gradOutput[i] : 0`. `gradInput` may be `gradOutput`
  /// (in place).
  func reluBackward(input: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage, count: Int)
  /// `out[i] = f(x[i])` for `σ` or `tanh` (`Activation.value`).
  func activation(_ f: Activation, _ x: TensorStorage, out: TensorStorage, count: Int)
  /// `gradInput[i] = gradOutput[i]·f′`, the derivative taken at the output `output[i]`
  /// (`Activation.derivative`). `gradInput` may be `gradOutput` (in place).
  func activationBackward(_ f: Activation, output: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage, count: Int)
  /// `out[i] = eˣ⁽ⁱ⁾`.
  func exp(_ x: TensorStorage, out: TensorStorage, count: Int)
  /// `out[i] = ln x[i]`.
  func log(_ x: TensorStorage, out: TensorStorage, count: Int)
  /// `out[i] = Σ_k weights[k]·sources[k][i]`, products accumulated in source order (float32).
  func weightedSum(_ sources: [TensorStorage], weights: [Float], out: TensorStorage, count: Int)
}

/// Strided primitives over a 4-D (or any rank for `stridedCopy` and `stridedBinary`) index
/// space `shape`: element `(i₀, i₁, …)` of an operand is at `offset + Σ_a i_a·strides[a]`.
public protocol StridedPrimitives {
  /// `destination[·] = source[·]` over `shape` (`+=` when `accumulate`, where destination
  /// strides of 0 sum over their axes: the reverse of broadcasting). Covers broadcasting,
  /// permutation, slicing and concatenation.
  func stridedCopy(
    shape: [Int], source: BufferPosition, sourceStrides: [Int],
    destination: BufferPosition, destinationStrides: [Int], accumulate: Bool)
  /// `out[·] = a[·] ∘ b[·]` over `shape`, `out` contiguous; strides of 0 broadcast.
  func stridedBinary(
    _ operation: BinaryOperation, shape: [Int], a: TensorStorage, aStrides: [Int],
    b: TensorStorage, bStrides: [Int], out: TensorStorage)
  /// `destination[·] = Σ_k weights[k]·sources[k][·]` over a 4-D `shape` whose last axis is
  /// contiguous in every operand (the fused mixed operation of a DARTS/PC-DARTS node).
  func stridedWeightedSum(
    shape: [Int], sources: [BufferPosition], sourceStrides: [[Int]], weights: [Float],
    destination: BufferPosition, destinationStrides: [Int])
  /// The backward pass of `stridedWeightedSum` for the upstream gradient `g`:
  /// `gradInputs[k][·] = weights[k]·g[·]` for every non-nil slot, and, when
  /// `needWeightGradient`, returns `Σ g[·]·sources[k][·]` per source (summed in Double across
  /// rows; zeros otherwise).
  func stridedWeightedSumBackward(
    shape: [Int], gradient: BufferPosition, gradientStrides: [Int],
    sources: [BufferPosition], sourceStrides: [[Int]], weights: [Float],
    gradInputs: [TensorStorage?], gradInputStrides: [[Int]], needWeightGradient: Bool) -> [Double]
}

/// Row lookups in a `[rows, rowLength]` table: an embedding and its gradient. Indices are host
/// integers, each a row of the table (checked by the caller).
public protocol RowGatherPrimitives {
  /// `out[i, :] = table[indices[i], :]`.
  func gatherRows(table: TensorStorage, rowLength: Int, indices: [Int], out: TensorStorage)
  /// `table[indices[i], :] += rows[i, :]`, accumulated in increasing `i` whatever the thread
  /// count.
  func scatterAddRows(_ rows: TensorStorage, rowLength: Int, indices: [Int], into table: TensorStorage)
}

/// Reductions whose results return to the host.
public protocol ReductionPrimitives {
  /// `Σ_i x[i]` in Double (float32 partial sums over blocks, the blocks summed in Double).
  func sum(_ x: TensorStorage, count: Int) -> Double
  /// `Σ_i a[i]·b[i]`, summed as `sum`.
  func dot(_ a: TensorStorage, _ b: TensorStorage, count: Int) -> Double
  /// Whether no element is NaN or ±∞.
  func allFinite(_ x: TensorStorage, count: Int) -> Bool
  /// `out[r] = max_i x[r·length + i]` for `r` in `0..<rows` (no gradient: the softmax shift).
  func rowMaximum(_ x: TensorStorage, rows: Int, length: Int, out: TensorStorage)
}

/// Convolution, pooling and matrix products.
public protocol ConvolutionPrimitives {
  /// PyTorch `conv2d` without bias: `output[n, o, y, x] = Σ in[n, c, y·s − p + ky·d,
  /// x·s − p + kx·d]·weight[o, c, ky, kx]` over the group's input channels, zero padding, with
  /// `in` the values `input` reads (mapped and rectified as it says, without keeping them).
  func convolutionForward(_ g: ConvolutionGeometry, input: ConvolutionInput, weight: TensorStorage, output: TensorStorage)
  /// The gradient of `convolutionForward` with respect to the values it read. With
  /// `rectifiedInput` (the forward pass's input, when it rectified), the result is masked
  /// where the mapped value was not positive, the ReLU's backward pass.
  func convolutionBackwardInput(
    _ g: ConvolutionGeometry, gradOutput: TensorStorage, weight: TensorStorage, gradInput: TensorStorage,
    rectifiedInput: ConvolutionInput?)
  /// The gradient of `convolutionForward` with respect to its weight.
  func convolutionBackwardWeight(
    _ g: ConvolutionGeometry, input: ConvolutionInput, gradOutput: TensorStorage, gradWeight: TensorStorage)
  /// Max pooling per plane (padding never wins).
  func maxPoolForward(_ g: PoolGeometry, input: TensorStorage, output: TensorStorage)
  /// Routes each output gradient to the first maximal input of its window (PyTorch's choice).
  func maxPoolBackward(_ g: PoolGeometry, input: TensorStorage, gradOutput: TensorStorage, gradInput: TensorStorage)
  /// Average pooling per plane; without `countIncludePad` padded positions are not counted.
  func averagePoolForward(_ g: PoolGeometry, countIncludePad: Bool, input: TensorStorage, output: TensorStorage)
  /// The gradient of `averagePoolForward`.
  func averagePoolBackward(_ g: PoolGeometry, countIncludePad: Bool, gradOutput: TensorStorage, gradInput: TensorStorage)
  /// `c[m×n] = op(a)·op(b)` with `op(a)` `[m, k]` (`a` stored `[k, m]` when `transposeA`) and
  /// `op(b)` `[k, n]` (`b` stored `[n, k]` when `transposeB`); leading dimensions in elements.
  func matrixMultiply(
    m: Int, n: Int, k: Int, a: TensorStorage, lda: Int, transposeA: Bool,
    b: TensorStorage, ldb: Int, transposeB: Bool, c: TensorStorage, ldc: Int)
}

/// Batch normalisation over NCHW tensors viewed as `[batch, channels, spatial]`.
public protocol NormalizationPrimitives {
  /// Per-channel batch mean and biased variance (accumulated in Double).
  func batchNormStatistics(input: TensorStorage, batch: Int, channels: Int, spatial: Int, mean: TensorStorage, variance: TensorStorage)
  /// Per channel `invStd = 1/√(variance + ε)`, `scale = γ·invStd`, `shift = β − mean·scale`
  /// (γ = 1 and β = 0 when nil).
  func batchNormCoefficients(
    mean: TensorStorage, variance: TensorStorage, gamma: TensorStorage?, beta: TensorStorage?, epsilon: Float,
    channels: Int, invStd: TensorStorage, scale: TensorStorage, shift: TensorStorage)
  /// `output[n, c, s] = input[n, c, s]·scale[c] + shift[c]`, then `·sampleScale[n]` when given
  /// (`[batch]`: a drop-path mask), each product and sum rounded to float32 on its own.
  func channelAffine(
    input: TensorStorage, scale: TensorStorage, shift: TensorStorage, sampleScale: TensorStorage?, output: TensorStorage,
    batch: Int, channels: Int, spatial: Int)
  /// The backward pass of training-mode batch normalisation from the saved `mean` and
  /// `invStd`: `gradInput`, and the per-channel `gradGamma = Σ g·x̂`, `gradBeta = Σ g`
  /// (γ = 1 when nil).
  func batchNormBackward(
    gradOutput: TensorStorage, input: TensorStorage, mean: TensorStorage, invStd: TensorStorage, gamma: TensorStorage?,
    gradInput: TensorStorage, gradGamma: TensorStorage, gradBeta: TensorStorage, batch: Int, channels: Int, spatial: Int)
}

/// Fused, in-place updates of parameters and statistics (one pass over `count` elements).
public protocol UpdatePrimitives {
  /// PyTorch SGD with momentum and coupled weight decay: `d = g + λw`; `buf = d` on the
  /// first step, else `μ·buf + d`; `w ← w − lr·buf`. Updates `weight` and `momentumBuffer`.
  func sgdStep(
    weight: TensorStorage, gradient: TensorStorage, momentumBuffer: TensorStorage, count: Int,
    learningRate: Float, momentum: Float, weightDecay: Float, firstStep: Bool)
  /// PyTorch Adam with coupled L2 weight decay at step `t ≥ 1`. Updates `weight`,
  /// `firstMoment` and `secondMoment`.
  func adamStep(
    weight: TensorStorage, gradient: TensorStorage, firstMoment: TensorStorage, secondMoment: TensorStorage,
    count: Int, step t: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double)
  /// `running[i] = (1 − momentum)·running[i] + momentum·batch[i]·scale` (BatchNorm running
  /// statistics).
  func runningAverage(_ running: TensorStorage, toward batch: TensorStorage, count: Int, momentum: Float, scale: Float)
}

/// Every kernel primitive a backend provides.
public typealias KernelPrimitives = HostTransferPrimitives & ElementwisePrimitives & StridedPrimitives & RowGatherPrimitives
  & ReductionPrimitives & ConvolutionPrimitives & NormalizationPrimitives & UpdatePrimitives
