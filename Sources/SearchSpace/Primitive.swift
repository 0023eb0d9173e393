/// The candidate operations of the DARTS CNN search space (Liu et al., ICLR 2019; SPEC §1.1).
///
/// `searchSpace` lists the eight searched primitives in the reference order, which defines the
/// columns of α and the module indices of checkpoints. Two more primitives exist only to
/// express the NASNet and AmoebaNet baseline genotypes, and `noise` only for RobustDARTS'
/// space S4 (``OperationSpace/s4``).
public enum Primitive: String, Codable, Sendable, CaseIterable {
  case none = "none"
  case maxPool3x3 = "max_pool_3x3"
  case avgPool3x3 = "avg_pool_3x3"
  case skipConnect = "skip_connect"
  case sepConv3x3 = "sep_conv_3x3"
  case sepConv5x5 = "sep_conv_5x5"
  case dilConv3x3 = "dil_conv_3x3"
  case dilConv5x5 = "dil_conv_5x5"
  case sepConv7x7 = "sep_conv_7x7"
  case conv7x1And1x7 = "conv_7x1_1x7"
  /// Fresh N(0, 1) values shaped like the (stride-subsampled) input, ignoring its values
  /// (RobustDARTS S4, Zela et al., ICLR 2020; SPEC-ROBUST, search-space caveat).
  case noise = "noise"

  /// The eight searched primitives, in α column order:
  /// `none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5,
  /// dil_conv_3x3, dil_conv_5x5`.
  public static let searchSpace: [Primitive] = [
    .none, .maxPool3x3, .avgPool3x3, .skipConnect, .sepConv3x3, .sepConv5x5, .dilConv3x3,
    .dilConv5x5,
  ]

  /// The reference name (`sep_conv_3x3`).
  public var name: String { rawValue }

  /// True for pooling primitives (followed by a BN in the search network).
  public var isPooling: Bool { self == .maxPool3x3 || self == .avgPool3x3 }

  /// True for the operations without weights that collapse studies count (RobustDARTS,
  /// DARTS-PT): `none`, the pools, `skip_connect` and `noise`.
  ///
  /// NOTE: a stride-2 `skip_connect` is a FactorizedReduce, which has weights; it counts as
  /// parameter-free all the same, as in those papers' counts of a cell's skips.
  public var isParameterFree: Bool {
    switch self {
    case .none, .maxPool3x3, .avgPool3x3, .skipConnect, .noise: return true
    case .sepConv3x3, .sepConv5x5, .sepConv7x7, .dilConv3x3, .dilConv5x5, .conv7x1And1x7: return false
    }
  }
}

/// The edges of a cell with `steps` intermediate nodes (SPEC §1.3): node `j` (2 ≤ j < 2+steps)
/// receives one edge from every earlier node, in order of source, so edge indices run
/// row-major: node 2 ← 0 (e0), 1 (e1); node 3 ← 0 (e2), 1 (e3), 2 (e4); … 14 edges for 4 steps.
public struct CellTopology: Sendable, Equatable {
  public let steps: Int

  public init(steps: Int = 4) { self.steps = steps }

  /// Number of edges: Σ_{i<steps} (2 + i).
  public var edgeCount: Int { (0..<steps).reduce(0) { $0 + 2 + $1 } }

  /// The edge index range of node `2 + step` (its incoming edges, by ascending source).
  public func edges(ofStep step: Int) -> Range<Int> {
    let start = (0..<step).reduce(0) { $0 + 2 + $1 }
    return start..<(start + 2 + step)
  }

  /// The source node of edge `edge`.
  public func source(ofEdge edge: Int) -> Int {
    for step in 0..<steps where edges(ofStep: step).contains(edge) {
      return edge - edges(ofStep: step).lowerBound
    }
    preconditionFailure("edge \(edge) out of range 0..<\(edgeCount)")
  }
}
