import Foundation
import Runs
import SearchSpace

/// The signs of collapse that a search shows every epoch (Zela et al., ICLR 2020; SPEC-ROBUST
/// §4 motivation), per cell type: how many `skip_connect` and how many parameter-free
/// operations (``Primitive/isParameterFree``) the current genotype holds, and the mean entropy
/// of the softmax rows of α (`−Σ_k p_k ln p_k`, natural log: `ln K` for uniform rows, falling
/// towards 0 as every edge commits to one operation). Edge weights β (PC-DARTS) do not enter
/// the entropy.
public struct CollapseDiagnostics: Sendable, Equatable {
  /// The diagnostics of one cell type.
  public struct Cell: Sendable, Equatable {
    /// `skip_connect` edges of the genotype's cell.
    public var skipConnects: Int
    /// Parameter-free edges of the genotype's cell (`skip_connect` included).
    public var parameterFree: Int
    /// Mean over α's rows of the entropy of each row's softmax (nats).
    public var meanEntropy: Double

    /// The diagnostics of a derived cell `edges` and its α softmax rows `weights` (`[edge][k]`).
    public init(edges: [Genotype.Edge], weights: [[Float]]) {
      skipConnects = edges.filter { $0.operation == .skipConnect }.count
      parameterFree = edges.filter { $0.operation.isParameterFree }.count
      meanEntropy = weights.map(Self.entropy).reduce(0, +) / Double(max(weights.count, 1))
    }

    /// `−Σ p ln p` of a probability row (entries of 0 contribute 0).
    public static func entropy(_ row: [Float]) -> Double {
      -row.reduce(0) { sum, p in p > 0 ? sum + Double(p) * log(Double(p)) : sum }
    }
  }

  public var normal: Cell
  public var reduce: Cell

  public init(normal: Cell, reduce: Cell) {
    self.normal = normal
    self.reduce = reduce
  }

  /// The diagnostics of `network`'s current α and `genotype`, the cell derived from them.
  public init(_ network: SearchNetwork, genotype: Genotype) {
    normal = Cell(edges: genotype.normal, weights: GenotypeDerivation.softmaxRows(network.alphasNormal))
    reduce = Cell(edges: genotype.reduce, weights: GenotypeDerivation.softmaxRows(network.alphasReduce))
  }

  /// The fields of an epoch event: `normal_skip_connects`, `normal_parameter_free`,
  /// `normal_alpha_entropy` and the same for `reduce_`.
  public var fields: [String: JSONValue] {
    var fields: [String: JSONValue] = [:]
    for (name, cell) in [("normal", normal), ("reduce", reduce)] {
      fields["\(name)_skip_connects"] = .int(cell.skipConnects)
      fields["\(name)_parameter_free"] = .int(cell.parameterFree)
      fields["\(name)_alpha_entropy"] = .double(cell.meanEntropy)
    }
    return fields
  }

  /// The part of an epoch's progress line: `  normal skip 2 free 3 H 2.079  reduce skip 0 free 4 H 2.079`.
  public var text: String {
    [("normal", normal), ("reduce", reduce)].map { name, cell in
      String(format: "  %@ skip %d free %d H %.3f", name, cell.skipConnects, cell.parameterFree, cell.meanEntropy)
    }.joined()
  }
}
