/// The candidate operations of every edge of a search cell (`--space`): the DARTS space with
/// or without `none`, or one of RobustDARTS' spaces S1–S4 for studying collapse (Zela et al.,
/// ICLR 2020, `spaces.py`; SPEC-ROBUST, search-space caveat).
///
/// Each edge's operations are in the order of its α columns; `none`, where present, comes
/// first. Every edge of a space has the same number of operations K (α is `[edges, K]`).
public enum OperationSpace: String, Codable, Sendable, CaseIterable {
  /// The 8 primitives of DARTS on every edge (SPEC §1.1), `none` included (RobustDARTS,
  /// DARTS- use it so).
  case darts
  /// The 7 DARTS primitives without `none`, as SDARTS, DARTS-PT and β-DARTS search.
  case dartsNoNone = "darts-no-none"
  /// A fixed pair of operations per edge and cell type (RobustDARTS `primitives_1`); defined
  /// for cells of 4 nodes (14 edges).
  case s1
  /// `skip_connect`, `sep_conv_3x3` on every edge.
  case s2
  /// `none`, `skip_connect`, `sep_conv_3x3` on every edge.
  case s3
  /// `noise`, `sep_conv_3x3` on every edge.
  case s4

  /// The operations of each of the `edges` edges of a normal (`reduction` false) or reduction
  /// cell, or nil when the space has no table for that many edges (S1: 14 only).
  public func operations(edges: Int, reduction: Bool) -> [[Primitive]]? {
    switch self {
    case .darts: return Array(repeating: Primitive.searchSpace, count: edges)
    case .dartsNoNone: return Array(repeating: Primitive.searchSpace.filter { $0 != .none }, count: edges)
    case .s1:
      let table = reduction ? Self.s1Reduce : Self.s1Normal
      return edges == table.count ? table : nil
    case .s2: return Array(repeating: [.skipConnect, .sepConv3x3], count: edges)
    case .s3: return Array(repeating: [.none, .skipConnect, .sepConv3x3], count: edges)
    case .s4: return Array(repeating: [.noise, .sepConv3x3], count: edges)
    }
  }

  /// Operations per edge (K).
  public var operationCount: Int {
    switch self {
    case .darts: return Primitive.searchSpace.count
    case .dartsNoNone: return Primitive.searchSpace.count - 1
    case .s3: return 3
    case .s1, .s2, .s4: return 2
    }
  }

  /// The edge counts a space is defined for (nil: any).
  public var edgeCount: Int? { self == .s1 ? Self.s1Normal.count : nil }

  /// RobustDARTS S1, normal cell, edges 0–13 (`primitives_1['primitives_normal']`).
  static let s1Normal: [[Primitive]] = [
    [.skipConnect, .dilConv3x3], [.skipConnect, .dilConv5x5], [.skipConnect, .dilConv5x5],
    [.skipConnect, .sepConv3x3], [.skipConnect, .dilConv3x3], [.maxPool3x3, .skipConnect],
    [.skipConnect, .sepConv3x3], [.skipConnect, .sepConv3x3], [.skipConnect, .dilConv3x3],
    [.skipConnect, .sepConv3x3], [.maxPool3x3, .skipConnect], [.skipConnect, .dilConv3x3],
    [.dilConv3x3, .dilConv5x5], [.dilConv3x3, .dilConv5x5],
  ]

  /// RobustDARTS S1, reduction cell, edges 0–13 (`primitives_1['primitives_reduct']`).
  static let s1Reduce: [[Primitive]] = [
    [.maxPool3x3, .avgPool3x3], [.maxPool3x3, .dilConv3x3], [.maxPool3x3, .avgPool3x3],
    [.maxPool3x3, .avgPool3x3], [.skipConnect, .dilConv5x5], [.maxPool3x3, .avgPool3x3],
    [.maxPool3x3, .sepConv3x3], [.skipConnect, .dilConv3x3], [.skipConnect, .dilConv5x5],
    [.maxPool3x3, .avgPool3x3], [.maxPool3x3, .avgPool3x3], [.skipConnect, .dilConv5x5],
    [.skipConnect, .dilConv5x5], [.skipConnect, .dilConv5x5],
  ]
}
