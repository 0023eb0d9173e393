import Runs
import SearchSpace
import TensorCore

/// How DARTS-PT ranks a perturbed architecture (`--criterion`): by the top-1 accuracy on the
/// architecture split (the paper's), or by its loss.
public enum SelectionCriterion: String, Codable, Sendable, CaseIterable {
  case accuracy, loss
}

/// The architecture split's mean loss and top-1 accuracy under some mixing weights.
public struct ProjectionScore: Equatable, Sendable {
  /// Mean cross-entropy and top-1 accuracy (0…1).
  public var loss: Double
  public var accuracy: Double

  public init(loss: Double, accuracy: Double) {
    self.loss = loss
    self.accuracy = accuracy
  }

  /// `{"loss": …, "accuracy": …}` for decision events.
  var json: JSONValue { .object(["loss": .double(loss), "accuracy": .double(accuracy)]) }
}

/// DARTS-PT's two decision rules (SPEC-ROBUST §3), over a scoring function the caller
/// supplies (the run measures the architecture split; tests inject values).
public enum ProjectionDecisions {
  /// The operation of an edge: each operation's row entry is zeroed in turn (`score(o)`),
  /// and the operation whose removal hurts most is chosen: the lowest accuracy (`.loss`: the
  /// highest loss); the first of equal scores wins.
  /// - Returns: the chosen index and every operation's score, in operation order.
  public static func operation(
    count: Int, criterion: SelectionCriterion, score: (_ removed: Int) throws -> ProjectionScore
  ) rethrows -> (chosen: Int, scores: [ProjectionScore]) {
    let scores = try (0..<count).map(score)
    var chosen = 0
    for o in scores.indices.dropFirst() where hurts(scores[o], moreThan: scores[chosen], criterion) { chosen = o }
    return (chosen, scores)
  }

  /// The two inputs of a node: while more than two candidate edges remain, each candidate's
  /// row is zeroed in turn (`score(dropped, candidate)`, with the rows of the edges dropped
  /// so far zeroed too) and the edge whose removal leaves the best architecture (highest
  /// accuracy; `.loss`: lowest loss) is dropped; the later of equal scores is dropped.
  /// - Returns: the dropped edges in order, and each round's candidates with their scores.
  public static func topology(
    candidates: [Int], keep: Int = 2, criterion: SelectionCriterion,
    score: (_ dropped: [Int], _ candidate: Int) throws -> ProjectionScore
  ) rethrows -> (dropped: [Int], rounds: [[Round]]) {
    var remaining = candidates
    var dropped: [Int] = []
    var rounds: [[Round]] = []
    while remaining.count > keep {
      let round = try remaining.map { edge in Round(edge: edge, score: try score(dropped, edge)) }
      var worst = 0
      for i in round.indices.dropFirst() where !hurts(round[i].score, moreThan: round[worst].score, criterion) { worst = i }
      dropped.append(round[worst].edge)
      remaining.remove(at: worst)
      rounds.append(round)
    }
    return (dropped, rounds)
  }

  /// One candidate edge of a topology round and the score without it.
  public struct Round: Equatable, Sendable {
    public var edge: Int
    public var score: ProjectionScore
  }

  /// Whether removing what gave `a` hurts strictly more than removing what gave `b`.
  private static func hurts(_ a: ProjectionScore, moreThan b: ProjectionScore, _ criterion: SelectionCriterion) -> Bool {
    switch criterion {
    case .accuracy: return a.accuracy < b.accuracy
    case .loss: return a.loss > b.loss
    }
  }
}

extension ProjectionDecisions {
  /// What one decision of one cell type did.
  public enum Record: Equatable, Sendable {
    /// Edge `edge` got operation `chosen`; `scores[o]` is the score without operation `o`.
    case operation(edge: Int, chosen: Int, scores: [ProjectionScore])
    /// Node `node` (0-based step) lost the edges `dropped`; each round's (edge, score).
    case topology(node: Int, dropped: [Int], rounds: [[Round]])
  }

  /// One element of `choices` drawn uniformly (one draw of `generator`, reduced modulo the
  /// count: a bias below 2⁻⁵⁹ for at most 32 choices), nil if there is none.
  static func draw(_ choices: [Int], _ generator: inout SeededGenerator) -> Int? {
    choices.isEmpty ? nil : choices[Int(generator.next() % UInt64(choices.count))]
  }

  /// Makes `decision` for `cell` (edges of `ops` operations in cells of `topology`): draws an
  /// undecided edge (operation) or an undecided node with more than two inputs (topology)
  /// uniformly from `generator`, applies the rule and records the result in `cell`.
  /// `score(entries)` scores the current weights with the given row-major entries of this
  /// cell type's `[edges, ops]` weights set to 0.
  public static func decide(
    _ decision: ProjectionSchedule.Decision, cell: inout ArchitectureProjection.Cell, topology: CellTopology, ops: Int,
    criterion: SelectionCriterion, generator: inout SeededGenerator, score: (_ zeroed: [Int]) throws -> ProjectionScore
  ) throws -> Record {
    switch decision {
    case .operation:
      let undecided = (0..<topology.edgeCount).filter { cell.operations[$0] == nil }
      guard let edge = draw(undecided, &generator) else { throw SearchRunError("every edge already has its operation") }
      let (chosen, scores) = try operation(count: ops, criterion: criterion) { o in try score([edge * ops + o]) }
      cell.operations[edge] = chosen
      return .operation(edge: edge, chosen: chosen, scores: scores)
    case .topology:
      let open = ProjectionSchedule.nodesWithChoices(topology).filter { !cell.decidedNodes.contains($0) }
      guard let node = draw(open, &generator) else { throw SearchRunError("every node already has its two inputs") }
      let (dropped, rounds) = try self.topology(candidates: Array(topology.edges(ofStep: node)), criterion: criterion) { dropped, candidate in
        try score((dropped + [candidate]).flatMap { edge in (edge * ops)..<((edge + 1) * ops) })
      }
      cell.discarded += dropped
      cell.decidedNodes.append(node)
      return .topology(node: node, dropped: dropped, rounds: rounds)
    }
  }
}
