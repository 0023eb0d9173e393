import NN
import SearchSpace
import TensorCore

/// DARTS-PT's current architecture (Wang et al., ICLR 2021; SPEC-ROBUST §3): which edges of
/// each cell type have been decided (their operation) and which have been discarded by a
/// topology decision, and the mixing weights this gives.
///
/// The mixing weights `W` of a cell type are `softmax(α)` row by row, with every decided
/// edge's row replaced by the one-hot row of its operation and every discarded edge's row by
/// zeros. ``SearchOptimization`` passes every forward pass of a selection through
/// ``weights(_:)`` (α step, weight step, the SDARTS attack), so the gradient reaches α only
/// through the undecided rows. With nothing decided `W = softmax(α)` exactly.
public struct ArchitectureProjection: Codable, Equatable, Sendable {
  /// The decisions of one cell type (arrays, so that checkpoints encode them in one order).
  public struct Cell: Codable, Equatable, Sendable {
    /// The chosen operation (its index in the edge's operations) of each edge, nil while
    /// undecided.
    public var operations: [Int?]
    /// Edges topology decisions discarded (their rows are zero), in the order dropped.
    public var discarded: [Int] = []
    /// Intermediate nodes (0-based steps) whose two inputs have been chosen, in order.
    public var decidedNodes: [Int] = []

    /// A cell of `edges` undecided edges.
    public init(edges: Int) { operations = Array(repeating: nil, count: edges) }

    /// Whether edge `edge`'s row still follows `softmax(α)`.
    public func isUndecided(_ edge: Int) -> Bool { operations[edge] == nil && !discarded.contains(edge) }

    /// One line naming what cannot belong to a cell of `topology` whose edges have `ops`
    /// operations each, or nil (checked when a checkpoint is loaded).
    func problem(topology: CellTopology, ops: Int) -> String? {
      if operations.count != topology.edgeCount { return "\(operations.count) operation choices for \(topology.edgeCount) edges" }
      if let bad = operations.compactMap({ $0 }).first(where: { !(0..<ops).contains($0) }) { return "operation choice \(bad) is outside 0..<\(ops)" }
      if let bad = discarded.first(where: { !(0..<topology.edgeCount).contains($0) }) { return "discarded edge \(bad) is outside 0..<\(topology.edgeCount)" }
      if let bad = decidedNodes.first(where: { !ProjectionSchedule.nodesWithChoices(topology).contains($0) }) { return "decided node \(bad) has no choice of inputs" }
      return nil
    }

    /// `W` of this cell type from its softmax `p` (`[edges, ops]`): `p·keep + fixed`, where
    /// `keep` is 1 on undecided rows and 0 elsewhere and `fixed` holds the one-hot rows.
    func weights(_ p: Tensor) -> Tensor {
      guard operations.contains(where: { $0 != nil }) || !discarded.isEmpty else { return p }
      let (edges, ops) = (p.shape[0], p.shape[1])
      var keep = [Float](repeating: 1, count: edges * ops)
      var fixed = [Float](repeating: 0, count: edges * ops)
      for edge in 0..<edges where !isUndecided(edge) {
        keep.replaceSubrange((edge * ops)..<((edge + 1) * ops), with: repeatElement(0, count: ops))
        if let chosen = operations[edge], !discarded.contains(edge) { fixed[edge * ops + chosen] = 1 }
      }
      let backend = p.backend
      return p * Tensor(shape: p.shape, scalars: keep, on: backend) + Tensor(shape: p.shape, scalars: fixed, on: backend)
    }
  }

  /// The decisions of the normal cells and of the reduction cells.
  public var normal: Cell
  public var reduce: Cell

  /// Nothing decided, in cells of `edges` edges.
  public init(edges: Int) {
    normal = Cell(edges: edges)
    reduce = Cell(edges: edges)
  }

  /// The cell of `kind`.
  public subscript(kind: CellKind) -> Cell {
    get { kind == .normal ? normal : reduce }
    set { if kind == .normal { normal = newValue } else { reduce = newValue } }
  }

  /// `W` of both cell types from their mixing weights (`softmax(α)`, or any `[edges, ops]`
  /// weights a forward pass is given).
  public func weights(_ weights: OperationWeights) -> OperationWeights {
    OperationWeights(normal: normal.weights(weights.normal), reduce: reduce.weights(weights.reduce))
  }
}

/// The two cell types of a supernet.
public enum CellKind: String, Codable, Sendable, CaseIterable {
  case normal, reduce
}
