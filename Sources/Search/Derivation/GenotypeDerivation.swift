import NN
import TensorCore
import SearchSpace

/// Reads a discrete cell off architecture weights (DARTS, SPEC §3.2; PC-DARTS, SPEC §5.3).
///
/// For each intermediate node: each incoming edge's strength is its largest weight over the
/// operations other than `none`; the two strongest edges are kept (a stable sort, so ties keep
/// the lower source first), and each kept edge, strongest first, contributes its strongest
/// non-`none` operation (the first of equal maxima). The emitted order within a node is
/// therefore "strongest edge first", as in the reference.
public enum GenotypeDerivation {
  /// The edges of one cell.
  ///
  /// - Parameters:
  ///   - weights: `[edge][k]` operation weights (softmax of α), per edge in the order of
  ///     `primitives[edge]`.
  ///   - primitives: the operations of each edge.
  ///   - edgeWeights: PC-DARTS normalised β̃ per edge, multiplied into the edge's weights.
  ///   - keep: edges kept per node (2 for CNN cells).
  public static func cell(
    weights: [[Float]], primitives: [[Primitive]], topology: CellTopology = CellTopology(),
    edgeWeights: [Float]? = nil, keep: Int = 2
  ) -> [Genotype.Edge] {
    precondition(weights.count == topology.edgeCount && primitives.count == topology.edgeCount, "one weight row and one primitive list per edge")
    var result: [Genotype.Edge] = []
    for step in 0..<topology.steps {
      let range = topology.edges(ofStep: step)
      // (source, strength, best operation) per edge.
      let candidates: [(source: Int, strength: Float, operation: Primitive)] = range.compactMap { edge in
        let scale = edgeWeights?[edge] ?? 1
        var best: (Float, Primitive)?
        for (k, primitive) in primitives[edge].enumerated() where primitive != .none {
          let w = weights[edge][k] * scale
          if best == nil || w > best!.0 { best = (w, primitive) }
        }
        guard let best else { return nil }
        return (edge - range.lowerBound, best.0, best.1)
      }
      let strongest = candidates.enumerated()
        .sorted { a, b in a.element.strength != b.element.strength ? a.element.strength > b.element.strength : a.offset < b.offset }
        .prefix(keep)
      result += strongest.map { Genotype.Edge($0.element.operation, $0.element.source) }
    }
    return result
  }

  /// The softmax of an α parameter `[edges, K]` as rows (`[edge][k]`).
  static func softmaxRows(_ parameter: Parameter) -> [[Float]] {
    rows(withoutGradients { parameter.value.softmax(alongAxis: -1) })
  }

  /// The rows (`[edge][k]`) of `[edges, K]` weights.
  static func rows(_ w: Tensor) -> [[Float]] {
    let columns = w.shape[1]
    let values = w.scalars
    return (0..<w.shape[0]).map { Array(values[($0 * columns)..<(($0 + 1) * columns)]) }
  }

  /// The genotype of a search network's current architecture parameters, or, given
  /// `operationWeights`, of those mixing weights (DARTS-PT's projected weights) with the
  /// network's operations and PC-DARTS edge weights.
  public static func genotype(of network: SearchNetwork, operationWeights: OperationWeights? = nil) -> Genotype {
    let configuration = network.configuration
    let topology = configuration.topology
    func edgeWeights(_ betas: Parameter?) -> [Float]? {
      betas.map { b in withoutGradients { SearchNetwork.normalizedEdgeWeights(b.value, topology: topology).scalars } }
    }
    let weights = operationWeights ?? withoutGradients { network.operationWeights }
    let concat = Array(2..<(2 + configuration.steps))
    return Genotype(
      normal: cell(weights: rows(weights.normal), primitives: configuration.normalOperations, topology: topology, edgeWeights: edgeWeights(network.betasNormal)),
      normalConcat: concat,
      reduce: cell(weights: rows(weights.reduce), primitives: configuration.reduceOperations, topology: topology, edgeWeights: edgeWeights(network.betasReduce)),
      reduceConcat: concat)
  }
}
