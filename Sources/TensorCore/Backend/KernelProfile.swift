/// The classes a `ProfilingBackend` sorts its primitives' calls into: one per primitive of the
/// kernel contract, with the convolutions split by shape (1×1, depthwise, dense), plus the time
/// spent allocating. The raw value is the class's slot in a `KernelProfile`.
public enum KernelClass: Int, CaseIterable, Sendable {
  case convolutionForwardPointwise, convolutionForwardDepthwise, convolutionForwardDense
  case convolutionBackwardInputPointwise, convolutionBackwardInputDepthwise, convolutionBackwardInputDense
  case convolutionBackwardWeightPointwise, convolutionBackwardWeightDepthwise, convolutionBackwardWeightDense
  case matrixMultiply
  case batchNormStatistics, batchNormCoefficients, channelAffine, batchNormBackward
  case maxPoolForward, maxPoolBackward, averagePoolForward, averagePoolBackward
  case binary, affine, relu, reluBackward, activation, activationBackward, exp, log, fill
  case weightedSum, stridedWeightedSum, stridedWeightedSumBackward
  case copy, stridedCopy, stridedBinary, gatherRows, scatterAddRows
  case sum, dot, allFinite, rowMaximum
  case sgdStep, adamStep, runningAverage
  case upload, hostRead
  case allocation

  /// The family a class belongs to, in the order a profile lists them.
  public enum Family: String, CaseIterable, Sendable {
    case convolution = "convolution"
    case matrixMultiply = "matrix multiply"
    case batchNorm = "batch norm"
    case pooling = "pooling"
    case elementwise = "element-wise"
    case weightedSums = "weighted sums"
    case copies = "copies and slices"
    case reductions = "reductions"
    case optimizer = "optimiser"
    case hostTransfer = "host transfers"
    case allocation = "allocation"

    /// Whether the family's kernels are bound by arithmetic (rated in GFLOP/s) rather than by
    /// memory traffic (rated in GB/s). Allocation moves no tensor bytes and has no rate.
    public var isCompute: Bool { self == .convolution || self == .matrixMultiply }

    /// The family's classes, in `KernelClass` order.
    public var classes: [KernelClass] { KernelClass.allCases.filter { $0.family == self } }
  }

  /// The three passes of a convolution.
  enum ConvolutionPass { case forward, backwardInput, backwardWeight }

  /// The class of pass `pass` of a convolution of geometry `g`: 1×1 (`isPointwise`: kernel 1,
  /// no padding, groups 1), depthwise (`isDepthwise`: groups = channels) or dense (the rest).
  static func convolution(_ g: ConvolutionGeometry, _ pass: ConvolutionPass) -> KernelClass {
    switch (pass, g.isPointwise, g.isDepthwise) {
    case (.forward, true, _): .convolutionForwardPointwise
    case (.forward, false, true): .convolutionForwardDepthwise
    case (.forward, false, false): .convolutionForwardDense
    case (.backwardInput, true, _): .convolutionBackwardInputPointwise
    case (.backwardInput, false, true): .convolutionBackwardInputDepthwise
    case (.backwardInput, false, false): .convolutionBackwardInputDense
    case (.backwardWeight, true, _): .convolutionBackwardWeightPointwise
    case (.backwardWeight, false, true): .convolutionBackwardWeightDepthwise
    case (.backwardWeight, false, false): .convolutionBackwardWeightDense
    }
  }

  public var family: Family {
    switch self {
    case .convolutionForwardPointwise, .convolutionForwardDepthwise, .convolutionForwardDense,
      .convolutionBackwardInputPointwise, .convolutionBackwardInputDepthwise, .convolutionBackwardInputDense,
      .convolutionBackwardWeightPointwise, .convolutionBackwardWeightDepthwise, .convolutionBackwardWeightDense:
      .convolution
    case .matrixMultiply: .matrixMultiply
    case .batchNormStatistics, .batchNormCoefficients, .channelAffine, .batchNormBackward: .batchNorm
    case .maxPoolForward, .maxPoolBackward, .averagePoolForward, .averagePoolBackward: .pooling
    case .binary, .affine, .relu, .reluBackward, .activation, .activationBackward, .exp, .log, .fill: .elementwise
    case .weightedSum, .stridedWeightedSum, .stridedWeightedSumBackward: .weightedSums
    case .copy, .stridedCopy, .stridedBinary, .gatherRows, .scatterAddRows: .copies
    case .sum, .dot, .allFinite, .rowMaximum: .reductions
    case .sgdStep, .adamStep, .runningAverage: .optimizer
    case .upload, .hostRead: .hostTransfer
    case .allocation: .allocation
    }
  }

  /// A short label for tables and JSON ("conv fwd 1x1", "bn backward").
  public var label: String {
    switch self {
    case .convolutionForwardPointwise: "conv fwd 1x1"
    case .convolutionForwardDepthwise: "conv fwd depthwise"
    case .convolutionForwardDense: "conv fwd dense"
    case .convolutionBackwardInputPointwise: "conv bwd-input 1x1"
    case .convolutionBackwardInputDepthwise: "conv bwd-input depthwise"
    case .convolutionBackwardInputDense: "conv bwd-input dense"
    case .convolutionBackwardWeightPointwise: "conv bwd-weight 1x1"
    case .convolutionBackwardWeightDepthwise: "conv bwd-weight depthwise"
    case .convolutionBackwardWeightDense: "conv bwd-weight dense"
    case .matrixMultiply: "matmul"
    case .batchNormStatistics: "bn statistics"
    case .batchNormCoefficients: "bn coefficients"
    case .channelAffine: "bn channel affine"
    case .batchNormBackward: "bn backward"
    case .maxPoolForward: "max pool fwd"
    case .maxPoolBackward: "max pool bwd"
    case .averagePoolForward: "avg pool fwd"
    case .averagePoolBackward: "avg pool bwd"
    case .binary: "binary"
    case .affine: "affine"
    case .relu: "relu"
    case .reluBackward: "relu bwd"
    case .activation: "sigmoid/tanh"
    case .activationBackward: "sigmoid/tanh bwd"
    case .gatherRows: "gather rows"
    case .scatterAddRows: "scatter-add rows"
    case .exp: "exp"
    case .log: "log"
    case .fill: "fill"
    case .weightedSum: "weighted sum"
    case .stridedWeightedSum: "strided weighted sum"
    case .stridedWeightedSumBackward: "strided weighted sum bwd"
    case .copy: "copy"
    case .stridedCopy: "strided copy"
    case .stridedBinary: "strided binary"
    case .sum: "sum"
    case .dot: "dot"
    case .allFinite: "all finite"
    case .rowMaximum: "row maximum"
    case .sgdStep: "sgd"
    case .adamStep: "adam"
    case .runningAverage: "running average"
    case .upload: "upload"
    case .hostRead: "host read"
    case .allocation: "allocate"
    }
  }
}

/// What one class of primitives cost: calls, wall time inside them, and the arithmetic and
/// the memory traffic they must do (FLOPs as 2·multiply-adds; bytes as every tensor a call
/// reads or writes counted once, float32).
public struct KernelTally: Equatable, Sendable {
  public var calls = 0
  public var nanoseconds: UInt64 = 0
  public var flops = 0
  public var bytes = 0

  public init() {}

  /// The two tallies summed.
  public static func + (a: KernelTally, b: KernelTally) -> KernelTally {
    var sum = a
    sum.calls += b.calls
    sum.nanoseconds += b.nanoseconds
    sum.flops += b.flops
    sum.bytes += b.bytes
    return sum
  }
}

/// A tally per `KernelClass` (`ProfilingBackend.profile`).
public struct KernelProfile: Equatable, Sendable {
  /// Indexed by `KernelClass.rawValue`.
  var tallies = [KernelTally](repeating: KernelTally(), count: KernelClass.allCases.count)

  public init() {}

  public subscript(_ kind: KernelClass) -> KernelTally { tallies[kind.rawValue] }

  /// The sum over every class.
  public var total: KernelTally { tallies.reduce(KernelTally(), +) }
}
