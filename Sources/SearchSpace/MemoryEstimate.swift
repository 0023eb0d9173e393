import Foundation

/// A lower bound on the memory a cell network needs, computed from its sizes alone, so that a
/// size read from a flag or a file that cannot fit the machine is refused with one line
/// before anything is allocated, instead of an abort in the allocator.
///
/// What is counted (in `Double`, so no size overflows): the C² terms of the convolution weights
/// of every cell (the preprocessing 1×1 convolutions and each edge's operations,
/// ``Primitive/squaredChannelWeights``), and the feature maps of a batch: every cell's inputs,
/// node outputs and operation outputs in a training step (all kept for the backward pass), one
/// cell's in inference. The real figures are larger (depthwise taps, BN, the intermediates
/// inside each operation, gradients, optimiser state), so a network this estimate refuses
/// cannot run. For DARTS_V2 at C = 36, L = 20 it gives 3.0 M of the 3.35 M weights and, at
/// batch 96 on 32×32 images, 1.1 GiB of the 4.5 GiB a training step peaks at.
public struct MemoryEstimate: Sendable, Equatable {
  /// Float32 weights counted.
  public var weights: Double
  /// Float32 feature-map elements counted.
  public var activations: Double

  /// The bytes counted.
  public var bytes: Double { 4 * (weights + activations) }

  /// What one cell type costs per C² of weights and per channel-pixel of feature maps.
  public struct CellCost: Sendable, Equatable {
    /// Weights of the cell at `c` channels, divided by c².
    public var squaredChannelWeights: Double
    /// Feature maps of `c` channels the cell keeps (inputs, nodes, operation outputs).
    public var featureMaps: Double

    public init(squaredChannelWeights: Double, featureMaps: Double) {
      self.squaredChannelWeights = squaredChannelWeights
      self.featureMaps = featureMaps
    }

    /// A cell whose `edges` carry `operations` (each at `1/partialChannels` of the channels, as
    /// PC-DARTS's), whose preprocessing reads `concatenated` node outputs of the previous cell
    /// and which has `nodes` intermediate nodes; `auxiliaryReductions` edges also carry a
    /// whole-edge FactorizedReduce (DARTS-' auxiliary skip on stride-2 edges: C² weights and one
    /// output map each; its identity skips on stride-1 edges add neither).
    public init(edges operations: [[Primitive]], nodes: Int, concatenated: Int, partialChannels: Int = 1, auxiliaryReductions: Int = 0) {
      let k = Double(max(1, partialChannels))
      let weights = operations.joined().reduce(0) { $0 + $1.squaredChannelWeights } / (k * k)
      let outputs = Double(operations.joined().filter { $0 != .none }.count) / k
      let auxiliary = Double(max(0, auxiliaryReductions))
      // preprocess1 reads `concatenated` maps of at least half the cell's channels; preprocess0
      // at least as many as preprocess1 of the cell before.
      self.init(squaredChannelWeights: weights + Double(concatenated) + auxiliary, featureMaps: 2 + Double(nodes) + outputs + auxiliary)
    }
  }

  /// The estimate of a network of `layers` cells (reductions at L/3 and 2L/3 doubling the
  /// channels from `channels` and halving the size from `cellInputSize`), for a `batch` of
  /// images in a training step (every cell's maps kept) or in inference (one cell's), or for
  /// the weights alone (`batch` 0).
  public static func cellNetwork(
    channels: Int, layers: Int, cellInputSize: Int, normal: CellCost, reduce: CellCost, batch: Int, training: Bool
  ) -> MemoryEstimate {
    var (c, size) = (Double(channels), Double(cellInputSize))
    var estimate = MemoryEstimate(weights: 0, activations: 0)
    for i in 0..<max(0, layers) {
      let reduction = i == layers / 3 || i == 2 * layers / 3
      let cost = reduction ? reduce : normal
      if reduction { (c, size) = (2 * c, (size / 2).rounded(.up)) }
      estimate.weights += cost.squaredChannelWeights * c * c
      let maps = Double(max(0, batch)) * cost.featureMaps * c * size * size
      estimate.activations = training ? estimate.activations + maps : max(estimate.activations, maps)
    }
    return estimate
  }

  /// The memory of this machine (physical), in bytes.
  public static var physicalMemory: Double { Double(ProcessInfo.processInfo.physicalMemory) }

  /// One line saying that `what` cannot fit in `available` bytes, or nil when it may.
  public func problem(_ what: String, available: Double = MemoryEstimate.physicalMemory) -> String? {
    guard bytes > available else { return nil }
    return String(format: "%@ needs at least %.1f GiB (%.3g weights, %.3g feature-map values), more than the %.1f GiB of this machine", what, bytes / 1_073_741_824, weights, activations, available / 1_073_741_824)
  }
}

extension Primitive {
  /// The weights of the operation at `c` channels (stride 1), divided by c²: its pointwise and
  /// full convolutions. sep_conv: two 1×1 convolutions; dil_conv: one; conv_7x1_1x7: a 1×7 and
  /// a 7×1 convolution; pools, skips, `noise` and `none`: none.
  public var squaredChannelWeights: Double {
    switch self {
    case .sepConv3x3, .sepConv5x5, .sepConv7x7: return 2
    case .dilConv3x3, .dilConv5x5: return 1
    case .conv7x1And1x7: return 14
    case .none, .maxPool3x3, .avgPool3x3, .skipConnect, .noise: return 0
    }
  }
}
