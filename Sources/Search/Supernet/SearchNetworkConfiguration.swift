import SearchSpace

/// The shape of a search supernet (SPEC §1.3–1.5, §5): everything that decides which modules
/// exist, so a configuration plus a seed rebuilds the same network.
public struct SearchNetworkConfiguration: Codable, Sendable, Equatable {
  /// The input layers of the network.
  public enum Stem: String, Codable, Sendable {
    /// One 3×3 convolution (stride 1) and BN to `stemMultiplier·C` channels; cell 0 gets the
    /// stem output as both inputs (SPEC §1.4).
    case cifar
    /// The three-convolution stride-2 stem of the PC-DARTS ImageNet search to
    /// `stemMultiplier·C` channels (SPEC §5.5, `makeImageNetStem`): cell 0 gets stem0's output
    /// (twice the resolution, so it is reduced by a FactorizedReduce) and stem1's.
    case imageNet = "imagenet"
  }

  /// The input layers (CIFAR or ImageNet).
  public var stem: Stem = .cifar
  /// Initial channels C (cells 0… use C, doubled at each reduction cell).
  public var channels: Int = 16
  /// Number of cells L; reductions at L/3 and 2L/3.
  public var layers: Int = 8
  /// Intermediate nodes per cell.
  public var steps: Int = 4
  /// Stem output channels = `stemMultiplier · C`.
  public var stemMultiplier: Int = 3
  /// Output classes.
  public var classes: Int = 10
  /// Input image channels (3 for CIFAR, 1 for (Fashion-)MNIST).
  public var inputChannels: Int = 3
  /// The primitives on each edge of normal and reduction cells (`[edge][k]`, primitive
  /// order, `none` first where present). DARTS: the settings' space (``OperationSpace``; by
  /// default all eight everywhere, RobustDARTS S1 a pair of its own per edge); P-DARTS prunes
  /// them per edge between stages.
  public var normalOperations: [[Primitive]]
  public var reduceOperations: [[Primitive]]
  /// PC-DARTS partial channels K: ops see the first C/K channels (1 = plain DARTS).
  public var partialChannels: Int = 1
  /// PC-DARTS edge normalisation with β.
  public var edgeNormalization: Bool = false
  /// P-DARTS skip-connect dropout: stride-1 skips are followed by dropout (rate set per epoch).
  public var skipDropout: Bool = false
  /// DARTS- auxiliary skip on every edge (``AuxiliarySkip``; its β is set per epoch on the
  /// network, ``SearchNetwork/auxiliarySkipBeta``). Whole edges only (K = 1).
  public var auxiliarySkip: Bool = false

  public init(
    channels: Int = 16, layers: Int = 8, steps: Int = 4, classes: Int = 10, inputChannels: Int = 3,
    operations: [Primitive] = Primitive.searchSpace, partialChannels: Int = 1,
    edgeNormalization: Bool = false, skipDropout: Bool = false, auxiliarySkip: Bool = false, stem: Stem = .cifar
  ) {
    self.stem = stem
    self.channels = channels
    self.layers = layers
    self.steps = steps
    self.classes = classes
    self.inputChannels = inputChannels
    let edges = CellTopology(steps: steps).edgeCount
    normalOperations = Array(repeating: operations, count: edges)
    reduceOperations = Array(repeating: operations, count: edges)
    self.partialChannels = partialChannels
    self.edgeNormalization = edgeNormalization
    self.skipDropout = skipDropout
    self.auxiliarySkip = auxiliarySkip
  }

  /// The cell topology.
  public var topology: CellTopology { CellTopology(steps: steps) }

  /// A lower bound on the memory of the supernet's weights and of the feature maps of a
  /// training step on a `batch` of `inputSize`×`inputSize` images (see ``MemoryEstimate``).
  public func memoryEstimate(inputSize: Int, batch: Int) -> MemoryEstimate {
    let cellInputSize = stem == .cifar ? inputSize : (inputSize + 7) / 8
    func cost(_ operations: [[Primitive]], auxiliaryReductions: Int) -> MemoryEstimate.CellCost {
      MemoryEstimate.CellCost(
        edges: operations, nodes: steps, concatenated: steps, partialChannels: partialChannels, auxiliaryReductions: auxiliaryReductions)
    }
    // DARTS-: a FactorizedReduce skip on each of the 2·steps stride-2 edges of a reduction cell.
    return MemoryEstimate.cellNetwork(
      channels: channels, layers: layers, cellInputSize: cellInputSize, normal: cost(normalOperations, auxiliaryReductions: 0),
      reduce: cost(reduceOperations, auxiliaryReductions: auxiliarySkip ? 2 * steps : 0), batch: batch, training: true)
  }

  /// Whether cell `i` is a reduction cell.
  public func isReduction(_ cell: Int) -> Bool { cell == layers / 3 || cell == 2 * layers / 3 }
}
