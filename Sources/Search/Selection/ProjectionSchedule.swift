import SearchSpace

/// When DARTS-PT decides (SPEC-ROBUST §3): a decision every `interval` epochs of tuning,
/// first one operation decision per edge, then one topology decision per intermediate node
/// with more than two inputs, each decision epoch deciding for the normal cell and then the
/// reduction cell.
///
/// `T_tune = interval·(E + M − 1) + 1` epochs (E edges, M such nodes); epoch `e` decides when
/// `e % interval == 0` or `e == T_tune − 1`. The DARTS space (E = 14, M = 3) at the reference
/// interval 5: 81 epochs, operation decisions at 0, 5, …, 65 and topology decisions at 70, 75
/// and 80.
public struct ProjectionSchedule: Equatable, Sendable {
  /// What a decision epoch decides.
  public enum Decision: Equatable, Sendable {
    /// The `index`-th operation decision (0-based), of an edge drawn at random.
    case operation(index: Int)
    /// The `index`-th topology decision (0-based), of a node drawn at random.
    case topology(index: Int)
  }

  /// Tuning epochs from one decision to the next (`--decision-interval`).
  public let interval: Int
  /// The cells' edges and nodes.
  public let topology: CellTopology

  /// - Precondition: `interval ≥ 1`.
  public init(interval: Int, topology: CellTopology) {
    precondition(interval >= 1, "decision interval \(interval)")
    self.interval = interval
    self.topology = topology
  }

  /// The intermediate nodes (0-based steps) with more than two incoming edges: every node but
  /// the first.
  public static func nodesWithChoices(_ topology: CellTopology) -> [Int] {
    (0..<topology.steps).filter { topology.edges(ofStep: $0).count > 2 }
  }

  /// Decisions of each kind: E operation and M topology decisions (per cell type).
  public var operationDecisions: Int { topology.edgeCount }
  public var topologyDecisions: Int { Self.nodesWithChoices(topology).count }

  /// `T_tune = interval·(E + M − 1) + 1`.
  public var tuningEpochs: Int { interval * (operationDecisions + topologyDecisions - 1) + 1 }

  /// The position of `decision` among all decision epochs (0-based): operation decisions
  /// first.
  public func ordinal(_ decision: Decision) -> Int {
    switch decision {
    case .operation(let index): return index
    case .topology(let index): return operationDecisions + index
    }
  }

  /// The decision of epoch `epoch` (0-based), or nil for an epoch that only tunes.
  public func decision(atEpoch epoch: Int) -> Decision? {
    guard (0..<tuningEpochs).contains(epoch), epoch % interval == 0 || epoch == tuningEpochs - 1 else { return nil }
    let index = (0..<epoch).filter { $0 % interval == 0 }.count  // decision epochs before this one
    return index < operationDecisions ? .operation(index: index) : .topology(index: index - operationDecisions)
  }
}
