import Foundation
import SearchSpace

/// The rules of progressive DARTS (Chen, Xie, Wu, Tian, ICCV 2019; SPEC §4.2–4.6) as pure
/// functions on operation lists and softmax weights, with the tie-breaking of the reference
/// code (`chenxin061/pdarts`, `train_search.py`).
///
/// An edge's *switches* are the operations still on, in primitive order (`[edge][k]`, as
/// `SearchNetworkConfiguration.normalOperations`); `weights[edge][k]` is the softmax of α over
/// those operations.
public enum ProgressiveRules {
  /// The skip-connect dropout rate of epoch `epoch` (0-based) of a stage with initial rate
  /// `initial` (SPEC §4.3): `r·(E − e − 1)/E` during the `warmupEpochs` weights-only epochs,
  /// then `r·exp(−0.2·(e − warmupEpochs))` (back to `r` when α starts to learn).
  ///
  /// Example (r = 0.7, E = 25, 10 warm-up epochs): 0.672, 0.644, …, 0.420 at e = 9, 0.700 at
  /// e = 10, 0.573, 0.469, …, 0.043 at e = 24.
  public static func skipDropoutRate(initial: Double, epoch: Int, epochs: Int, warmupEpochs: Int) -> Double {
    epoch < warmupEpochs
      ? initial * Double(epochs - epoch - 1) / Double(epochs)
      : initial * exp(-0.2 * Double(epoch - warmupEpochs))
  }

  /// Indices of the `count` smallest entries of `values`, smallest first; equal values go in
  /// index order (repeated `argmin`, as the reference's `get_min_k`).
  static func smallest(_ count: Int, of values: [Float]) -> [Int] {
    var remaining = Array(values.indices)
    var result: [Int] = []
    for _ in 0..<min(count, values.count) {
      let i = remaining.indices.min { values[remaining[$0]] < values[remaining[$1]] }!  // the first of equal minima
      result.append(remaining.remove(at: i))
    }
    return result
  }

  /// The operations of one edge after switching off `count` of them (SPEC §4.2).
  ///
  /// - Parameter forceNone: the last stage's rule: if `none` is on it goes unconditionally
  ///   and only `count − 1` more are dropped (`get_min_k_no_zero`); otherwise `none` is
  ///   ranked like any other operation (`get_min_k`).
  public static func drop(_ count: Int, from operations: [Primitive], weights: [Float], forceNone: Bool) -> [Primitive] {
    precondition(operations.count == weights.count && count < operations.count, "\(operations.count) operations, \(weights.count) weights, drop \(count)")
    var dropped: Set<Int>
    if forceNone, operations.first == Primitive.none {
      dropped = [0]
      dropped.formUnion(smallest(count - 1, of: Array(weights.dropFirst())).map { $0 + 1 })
    } else {
      dropped = Set(smallest(count, of: weights))
    }
    return operations.indices.filter { !dropped.contains($0) }.map { operations[$0] }
  }

  /// Every edge of a cell after a stage: `count` operations dropped per edge (stages before
  /// the last: `none` ranked like any op; the last stage: `none` forced out).
  public static func drop(_ count: Int, from operations: [[Primitive]], weights: [[Float]], lastStage: Bool) -> [[Primitive]] {
    zip(operations, weights).map { drop(count, from: $0, weights: $1, forceNone: lastStage) }
  }

  /// The edges kept per node: node 2's two edges always, then for each later node the two
  /// with the highest score (a stable ascending sort whose last two are taken, so between
  /// equal scores the higher source wins, as `keep_2_branches`).
  static func keptEdges(scores: [Float], topology: CellTopology) -> Set<Int> {
    var kept = Set(topology.edges(ofStep: 0))
    for step in 1..<topology.steps {
      let range = Array(topology.edges(ofStep: step))
      let ascending = range.enumerated().sorted { a, b in
        scores[a.element] != scores[b.element] ? scores[a.element] < scores[b.element] : a.offset < b.offset
      }.map(\.element)
      kept.formUnion(ascending.suffix(2))
    }
    return kept
  }

  /// One operation per kept edge, nil for removed edges (SPEC §4.5 steps 2–5): each edge
  /// keeps its best operation other than `none` (the final drop of §4.2 on `probabilities`);
  /// edges are scored by the largest entry of their row.
  ///
  /// - Parameters:
  ///   - operations: the last stage's operations per edge.
  ///   - probabilities: their softmax weights, with `none` already set to 0 (see
  ///     `finalProbabilities`) and possibly with skip entries zeroed by the skip cap.
  public static func selectEdges(operations: [[Primitive]], probabilities: [[Float]], topology: CellTopology) -> [Primitive?] {
    let chosen = zip(operations, probabilities).map { ops, p in drop(ops.count - 1, from: ops, weights: p, forceNone: true)[0] }
    let kept = keptEdges(scores: probabilities.map { $0.max()! }, topology: topology)
    return chosen.indices.map { kept.contains($0) ? chosen[$0] : nil }
  }

  /// The last stage's softmax weights with the entry of `none` (when on) set to 0 (SPEC §4.5
  /// step 3).
  public static func finalProbabilities(operations: [[Primitive]], weights: [[Float]]) -> [[Float]] {
    zip(operations, weights).map { ops, w in ops.first == Primitive.none ? [0] + w.dropFirst() : w }
  }

  /// The cell of `parse_network`: per node, its kept edges by ascending source (SPEC §4.5 step
  /// 5, §11 item 8).
  public static func cell(_ selection: [Primitive?], topology: CellTopology) -> [Genotype.Edge] {
    (0..<topology.steps).flatMap { step in
      topology.edges(ofStep: step).compactMap { edge in
        selection[edge].map { Genotype.Edge($0, edge - topology.edges(ofStep: step).lowerBound) }
      }
    }
  }

  /// One level of the skip-connect cap: the normal cell once it has at most `maxSkip` skips.
  public struct SkipLevel: Sendable, Equatable {
    /// The level: the cell has at most this many skip-connects.
    public var maxSkip: Int
    /// The normal cell at this level (by ascending source within each node).
    public var normal: [Genotype.Edge]
  }

  /// The skip-connect cap of the normal cell (SPEC §4.6, the reference's loop): for
  /// `maxSkip` = (edges per cell … 0), while the cell has more than `maxSkip` skips, the skip
  /// with the smallest probability among the kept edges is zeroed (cumulatively) and the
  /// operations and edges re-selected. Re-selection may bring in a new skip edge.
  ///
  /// - Returns: every level that changed the cell, down to `limit` (the last is the capped
  ///   cell; empty when the uncapped cell already has at most `limit` skips).
  public static func capSkips(
    operations: [[Primitive]], probabilities: [[Float]], topology: CellTopology, limit: Int
  ) -> [SkipLevel] {
    var p = probabilities
    var selection = selectEdges(operations: operations, probabilities: p, topology: topology)
    func skips() -> Int { selection.filter { $0 == .skipConnect }.count }
    func skipProbability(_ edge: Int) -> Float { p[edge][operations[edge].firstIndex(of: .skipConnect)!] }
    var levels: [SkipLevel] = []
    let maxEdges = 2 * topology.steps
    for maxSkip in stride(from: maxEdges, through: max(limit, 0), by: -1) where skips() > maxSkip {
      while skips() > maxSkip {
        // The kept skip edge with the smallest skip probability (first of equal minima).
        let edge = selection.indices.filter { selection[$0] == .skipConnect }
          .min { skipProbability($0) < skipProbability($1) }!
        // A skip kept with probability 0 cannot be removed (only when every other weight of
        // its edge underflowed to 0 as well); the reference would loop forever, here it stops.
        guard skipProbability(edge) > 0 else { return levels }
        p[edge][operations[edge].firstIndex(of: .skipConnect)!] = 0
        selection = selectEdges(operations: operations, probabilities: p, topology: topology)
      }
      levels.append(SkipLevel(maxSkip: maxSkip, normal: cell(selection, topology: topology)))
    }
    return levels
  }
}
