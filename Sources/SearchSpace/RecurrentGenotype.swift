import Diagnostics
import Foundation

/// The operations of the DARTS recurrent space (SPEC-RNN §2), in the column order of its α:
/// `none`, `tanh`, `relu`, `sigmoid`, `identity`.
public enum RecurrentPrimitive: String, Codable, Sendable, CaseIterable {
  case none, tanh, relu, sigmoid, identity
}

/// A derived recurrent cell (SPEC-RNN §1, §7): node `n` (1…S) applies `recurrent[n − 1]`, an
/// activation of one predecessor (0 is the highway node s₀, m ≥ 1 node m); the cell output is
/// the mean of the `concat` nodes.
///
/// JSON form (the reference's `Genotype(recurrent, concat)`):
/// ```json
/// {"recurrent": [["sigmoid", 0], ["relu", 1], …], "concat": [1, 2, 3, 4, 5, 6, 7, 8]}
/// ```
public struct RecurrentGenotype: Codable, Sendable, Equatable, CustomStringConvertible {
  public typealias Edge = OperationEdge<RecurrentPrimitive>

  public var recurrent: [Edge]
  public var concat: [Int]

  public init(recurrent: [Edge], concat: [Int]) {
    self.recurrent = recurrent
    self.concat = concat
  }

  /// The most nodes a cell may have (DARTS has 8, ENAS 11): bounds the work a file can ask for.
  public static let maximumNodes = 32

  /// The structure's first problem, or nil: 1…``maximumNodes`` nodes, each reading an earlier
  /// node with an operation other than `none`, and a non-empty concat of nodes 1…S (no repeats).
  public func validationProblem() -> String? {
    if recurrent.isEmpty || recurrent.count > Self.maximumNodes {
      return "recurrent has \(recurrent.count) nodes, a cell needs 1…\(Self.maximumNodes)"
    }
    for (i, edge) in recurrent.enumerated() {
      if edge.input < 0 || edge.input > i {
        return "recurrent node \(i + 1) (\(edge.operation.rawValue)) reads node \(edge.input), which does not exist before it"
      }
      if edge.operation == .none { return "recurrent node \(i + 1) has the operation none, which a derived cell never has" }
    }
    if concat.isEmpty || concat.contains(where: { $0 < 1 || $0 > recurrent.count }) || Set(concat).count != concat.count {
      return "concat \(concat) must name distinct nodes of 1…\(recurrent.count)"
    }
    return nil
  }

  /// Reads and validates a recurrent genotype JSON file; errors name the file and the problem.
  public static func load(from url: URL) throws -> RecurrentGenotype {
    try decodeGenotypeFile(url, kind: "recurrent genotype") { $0.validationProblem() }
  }

  /// The reference's Python notation, `Genotype(recurrent=[('sigmoid', 0), …], concat=range(1, 9))`.
  public var description: String {
    let edges = recurrent.map { "('\($0.operation.rawValue)', \($0.input))" }.joined(separator: ", ")
    let contiguous = concat == Array((concat.first ?? 0)...(concat.last ?? 0))
    let concatText = contiguous && !concat.isEmpty ? "range(\(concat[0]), \(concat[concat.count - 1] + 1))" : "\(concat)"
    return "Genotype(recurrent=[\(edges)], concat=\(concatText))"
  }

  private static func cell(_ pairs: [(RecurrentPrimitive, Int)], concat: [Int]) -> RecurrentGenotype {
    RecurrentGenotype(recurrent: pairs.map { Edge($0.0, $0.1) }, concat: concat)
  }

  /// DARTS first order on PTB (`DARTS_V1`).
  public static let dartsV1 = cell(
    [(.relu, 0), (.relu, 1), (.tanh, 2), (.relu, 3), (.relu, 4), (.identity, 1), (.relu, 5), (.relu, 1)], concat: Array(1...8))
  /// DARTS second order on PTB (`DARTS_V2` = `DARTS`): 55.7 test perplexity with 23 M parameters.
  public static let dartsV2 = cell(
    [(.sigmoid, 0), (.relu, 1), (.relu, 1), (.identity, 1), (.tanh, 2), (.sigmoid, 5), (.tanh, 3), (.relu, 5)], concat: Array(1...8))
  /// The ENAS cell (11 nodes, concat 2, 5, 6, 9, 10, 11).
  public static let enas = cell(
    [(.tanh, 0), (.tanh, 1), (.relu, 1), (.tanh, 3), (.tanh, 3), (.relu, 3), (.relu, 4), (.relu, 7), (.relu, 8), (.relu, 8), (.relu, 8)],
    concat: [2, 5, 6, 9, 10, 11])

  /// The built-in recurrent genotypes by their reference names.
  public static let published: [String: RecurrentGenotype] = ["DARTS_V1": dartsV1, "DARTS_V2": dartsV2, "DARTS": dartsV2, "ENAS": enas]
}
