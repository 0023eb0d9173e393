import NN
import SearchSpace
import TensorCore

/// A search cell (SPEC §1.3): two preprocessed inputs, `steps` intermediate nodes each summing
/// a mixed op over every earlier node, output = concatenation of the intermediate nodes.
public final class SearchCell: Module {
  public let preprocess0: any Layer
  public let preprocess1: ReLUConvBN
  public let edges: [MixedOp]
  public let isReduction: Bool
  public let topology: CellTopology

  /// - Parameters:
  ///   - previousPrevious, previous: channels of the cell inputs c_{k−2}, c_{k−1}.
  ///   - channels: this cell's C (each node has C channels; the output 4C).
  ///   - reductionPrevious: the previous cell reduced, so c_{k−2} has twice the resolution and
  ///     is reduced by a FactorizedReduce.
  public init(
    previousPrevious: Int, previous: Int, channels: Int, isReduction: Bool, reductionPrevious: Bool,
    configuration: SearchNetworkConfiguration, using factory: inout ParameterFactory
  ) {
    (preprocess0, preprocess1) = makePreprocessing(
      previousPrevious: previousPrevious, previous: previous, channels: channels,
      reductionPrevious: reductionPrevious, affine: false, using: &factory)
    self.isReduction = isReduction
    topology = configuration.topology
    let operations = isReduction ? configuration.reduceOperations : configuration.normalOperations
    var edges: [MixedOp] = []
    for step in 0..<configuration.steps {
      for edge in topology.edges(ofStep: step) {
        let source = edge - topology.edges(ofStep: step).lowerBound
        edges.append(MixedOp(
          channels: channels, stride: isReduction && source < 2 ? 2 : 1, primitives: operations[edge],
          partialChannels: configuration.partialChannels, skipDropout: configuration.skipDropout,
          auxiliarySkip: configuration.auxiliarySkip, using: &factory))
      }
    }
    self.edges = edges
  }

  public override func referenceName(forProperty label: String) -> String? {
    switch label {
    case "edges": return "_ops"
    case "isReduction", "topology": return nil
    default: return label
    }
  }

  /// - Parameters:
  ///   - weights: `[edges, ops]` operation weights (softmax of α).
  ///   - edgeWeights: `[edges]` normalised β (PC-DARTS), or nil for plain sums.
  ///   - auxiliaryWeight: DARTS-' β(e), the constant weight of every edge's auxiliary skip
  ///     (used only when the edges have one; 0 leaves the skips out of the sum's value).
  public func callAsFunction(_ s0: Tensor, _ s1: Tensor, weights: Tensor, edgeWeights: Tensor?, auxiliaryWeight: Float = 0) -> Tensor {
    var states = [preprocess0(s0), preprocess1(s1)]
    let k = edges[0].partialChannels
    // Edges from the two cell inputs of a reduction cell have stride 2 (see init).
    var edgeInputs = states.map { PartialChannelInput($0, partialChannels: k, forStrideTwoEdges: isReduction) }
    // softmax(α)·β of each edge, formed once per cell (the weight of every operation output).
    let scaled = edgeWeights.map { weights * $0.reshaped(to: [edges.count, 1]) } ?? weights
    for step in 0..<topology.steps {
      let range = topology.edges(ofStep: step)
      // The node in one weighted sum: every edge's operation outputs weighted by
      // softmax(α)·β of the edge, and (K > 1) every edge's bypass weighted by β, joined and
      // shuffled (SPEC §1.3, §5.1). DARTS-' auxiliary skips (whole edges only) follow the
      // operation outputs as terms of constant weight β(e), outside the softmax (SPEC-ROBUST §5).
      var terms: [Tensor] = []
      var auxiliary: [Tensor] = []
      var used: [Range<Int>] = []
      var bypass: [(tensor: Tensor, channels: Range<Int>)] = []
      for edge in range {
        let input = edgeInputs[edge - range.lowerBound]
        let (outputs, primitives) = edges[edge].operationOutputs(input)
        terms += outputs
        used.append(primitives)
        if let skip = edges[edge].auxiliary { auxiliary.append(skip(input.x)) }
        if let b = input.bypass(stride: edges[edge].stride) { bypass.append(b) }
      }
      var termWeights = zip(range, used).map { edge, ops in
        scaled.sliced(lower: [edge, ops.lowerBound], upper: [edge + 1, ops.upperBound]).reshaped(to: [ops.count])
      }
      if !auxiliary.isEmpty {
        terms += auxiliary
        termWeights.append(Tensor(repeating: auxiliaryWeight, shape: [auxiliary.count], on: s0.backend))
      }
      if !bypass.isEmpty {
        termWeights.append(edgeWeights?.sliced(lower: [range.lowerBound], upper: [range.upperBound])
          ?? Tensor(repeating: 1, shape: [bypass.count], on: s0.backend))
      }
      states.append(Tensor.weightedSum(
        terms, weights: Tensor.concatenated(termWeights, alongAxis: 0), bypass: bypass, shuffleGroups: k))
      if step < topology.steps - 1 {
        edgeInputs.append(PartialChannelInput(states[states.count - 1], partialChannels: k, forStrideTwoEdges: false))
      }
    }
    return Tensor.concatenated(Array(states[2...]), alongAxis: 1)
  }
}
