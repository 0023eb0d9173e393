/// The shape parameters of a 2-D convolution over NCHW tensors.
///
/// Input `[batch, inChannels, inHeight, inWidth]`, weight
/// `[outChannels, inChannels / groups, kernelHeight, kernelWidth]` (PyTorch layout), output
/// `[batch, outChannels, outHeight, outWidth]` with
/// `out = (in + 2·pad − dilation·(kernel − 1) − 1) / stride + 1` (floor), as in PyTorch.
public struct ConvolutionGeometry: Hashable, Sendable, CustomStringConvertible {
  public var batch: Int
  public var inChannels: Int
  public var outChannels: Int
  public var inHeight: Int
  public var inWidth: Int
  public var kernelHeight: Int
  public var kernelWidth: Int
  public var strideHeight: Int
  public var strideWidth: Int
  public var padHeight: Int
  public var padWidth: Int
  public var dilationHeight: Int
  public var dilationWidth: Int
  public var groups: Int

  /// Creates a geometry; square kernels, strides, paddings and dilations unless the
  /// per-axis initialiser values are changed afterwards.
  public init(
    batch: Int, inChannels: Int, outChannels: Int, inHeight: Int, inWidth: Int,
    kernelHeight: Int, kernelWidth: Int, strideHeight: Int = 1, strideWidth: Int = 1,
    padHeight: Int = 0, padWidth: Int = 0, dilationHeight: Int = 1, dilationWidth: Int = 1,
    groups: Int = 1
  ) {
    precondition(groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
      "channels must be divisible by groups")
    self.batch = batch
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.inHeight = inHeight
    self.inWidth = inWidth
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth
    self.strideHeight = strideHeight
    self.strideWidth = strideWidth
    self.padHeight = padHeight
    self.padWidth = padWidth
    self.dilationHeight = dilationHeight
    self.dilationWidth = dilationWidth
    self.groups = groups
  }

  public var outHeight: Int {
    (inHeight + 2 * padHeight - dilationHeight * (kernelHeight - 1) - 1) / strideHeight + 1
  }
  public var outWidth: Int {
    (inWidth + 2 * padWidth - dilationWidth * (kernelWidth - 1) - 1) / strideWidth + 1
  }
  /// Element counts of the three tensors.
  public var inputCount: Int { batch * inChannels * inHeight * inWidth }
  public var outputCount: Int { batch * outChannels * outHeight * outWidth }
  public var weightCount: Int { outChannels * (inChannels / groups) * kernelHeight * kernelWidth }
  /// Multiply-adds of the forward pass, times two.
  public var flops: Double {
    2.0 * Double(outputCount) * Double(inChannels / groups * kernelHeight * kernelWidth)
  }
  /// True for a depthwise convolution (one input and one output channel per group).
  public var isDepthwise: Bool { groups == inChannels && groups == outChannels && groups > 1 }
  /// True for a 1×1 convolution without padding or grouping (a per-image GEMM).
  public var isPointwise: Bool {
    kernelHeight == 1 && kernelWidth == 1 && padHeight == 0 && padWidth == 0 && groups == 1
  }

  public var description: String {
    "conv[\(batch)x\(inChannels)x\(inHeight)x\(inWidth) -> \(outChannels), "
      + "k\(kernelHeight)x\(kernelWidth) s\(strideHeight)x\(strideWidth) "
      + "p\(padHeight)x\(padWidth) d\(dilationHeight)x\(dilationWidth) g\(groups)]"
  }
}

/// The shape parameters of a 2-D pooling window over NCHW tensors (`planes = batch·channels`).
///
/// `out = (in + 2·pad − kernel) / stride + 1` (floor; PyTorch's `ceil_mode=False`).
public struct PoolGeometry: Hashable, Sendable {
  public var planes: Int
  public var inHeight: Int
  public var inWidth: Int
  public var kernelHeight: Int
  public var kernelWidth: Int
  public var strideHeight: Int
  public var strideWidth: Int
  public var padHeight: Int
  public var padWidth: Int

  public init(
    planes: Int, inHeight: Int, inWidth: Int, kernel: Int, stride: Int, padding: Int
  ) {
    self.planes = planes
    self.inHeight = inHeight
    self.inWidth = inWidth
    self.kernelHeight = kernel
    self.kernelWidth = kernel
    self.strideHeight = stride
    self.strideWidth = stride
    self.padHeight = padding
    self.padWidth = padding
  }

  public var outHeight: Int { (inHeight + 2 * padHeight - kernelHeight) / strideHeight + 1 }
  public var outWidth: Int { (inWidth + 2 * padWidth - kernelWidth) / strideWidth + 1 }
  public var inputCount: Int { planes * inHeight * inWidth }
  public var outputCount: Int { planes * outHeight * outWidth }
}
