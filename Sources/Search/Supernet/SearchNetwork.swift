import NN
import SearchSpace
import TensorCore

/// The DARTS search supernet (SPEC §1.4–1.6): stem, L search cells (reductions at L/3 and
/// 2L/3), global pooling and a linear classifier, with the architecture parameters as a
/// separate parameter group: `alphas_normal`, `alphas_reduce` (`[edges, ops]`, 1e-3·N(0,1))
/// and, with edge normalisation, `betas_normal`, `betas_reduce` (`[edges]`).
///
/// Weight and buffer names equal the reference PyTorch names (`stem.0.weight`,
/// `cells.2._ops.0._ops.4.op.1.weight`, `classifier.bias`, …; DARTS-' skips on stride-2 edges
/// `cells.2._ops.0.auxiliary_op.conv_1.weight`, as in its `model_search.py`). All normal cells share
/// `alphas_normal`, all reduction cells `alphas_reduce`. With the ImageNet stem
/// (`model_search_imagenet.py`, SPEC §5.5) `stem` is absent and `stem0`, `stem1` take its
/// place; cell 0 then reduces its first input as if it followed a reduction cell.
public final class SearchNetwork: Module {
  public let configuration: SearchNetworkConfiguration
  /// The CIFAR stem (nil with the ImageNet stem).
  public let stem: Sequential?
  /// The two parts of the ImageNet stem (nil with the CIFAR stem).
  public let stem0: Sequential?
  public let stem1: Sequential?
  public let cells: [SearchCell]
  public let classifier: Linear
  public let alphasNormal: Parameter
  public let alphasReduce: Parameter
  public let betasNormal: Parameter?
  public let betasReduce: Parameter?
  /// DARTS-' β(e), the weight of every edge's auxiliary skip (``AuxiliarySkip``; set by
  /// ``SearchRun`` at the start of every epoch). Unused unless the configuration has
  /// `auxiliarySkip`.
  public var auxiliarySkipBeta: Float = 1

  public init(_ configuration: SearchNetworkConfiguration, using factory: inout ParameterFactory) {
    self.configuration = configuration
    let c = configuration.channels
    let stemChannels = configuration.stemMultiplier * c
    switch configuration.stem {
    case .cifar:
      stem = Sequential([
        Conv2d(configuration.inputChannels, stemChannels, kernel: 3, padding: 1, using: &factory),
        BatchNorm2d(stemChannels, using: &factory),
      ])
      (stem0, stem1) = (nil, nil)
    case .imageNet:
      stem = nil
      (stem0, stem1) = makeImageNetStem(inputChannels: configuration.inputChannels, channels: stemChannels, using: &factory)
    }
    var (previousPrevious, previous, current) = (stemChannels, stemChannels, c)
    var reductionPrevious = configuration.stem == .imageNet
    var cells: [SearchCell] = []
    for i in 0..<configuration.layers {
      let reduction = configuration.isReduction(i)
      if reduction { current *= 2 }
      cells.append(SearchCell(
        previousPrevious: previousPrevious, previous: previous, channels: current, isReduction: reduction,
        reductionPrevious: reductionPrevious, configuration: configuration, using: &factory))
      reductionPrevious = reduction
      (previousPrevious, previous) = (previous, configuration.steps * current)
    }
    self.cells = cells
    classifier = Linear(previous, configuration.classes, using: &factory)
    let edges = configuration.topology.edgeCount
    alphasNormal = factory.normal([edges, configuration.normalOperations[0].count], scale: 1e-3, kind: .architecture)
    alphasReduce = factory.normal([edges, configuration.reduceOperations[0].count], scale: 1e-3, kind: .architecture)
    betasNormal = configuration.edgeNormalization ? factory.normal([edges], scale: 1e-3, kind: .architecture) : nil
    betasReduce = configuration.edgeNormalization ? factory.normal([edges], scale: 1e-3, kind: .architecture) : nil
  }

  public override func referenceName(forProperty label: String) -> String? {
    switch label {
    case "alphasNormal": return "alphas_normal"
    case "alphasReduce": return "alphas_reduce"
    case "betasNormal": return "betas_normal"
    case "betasReduce": return "betas_reduce"
    case "configuration", "auxiliarySkipBeta": return nil
    default: return label
    }
  }

  /// Edge weights β̃: softmax of β within each node's incoming edges (SPEC §5.2).
  public static func normalizedEdgeWeights(_ betas: Tensor, topology: CellTopology) -> Tensor {
    Tensor.concatenated(
      (0..<topology.steps).map { step in
        let r = topology.edges(ofStep: step)
        return betas.sliced(lower: [r.lowerBound], upper: [r.upperBound]).softmax()
      }, alongAxis: 0)
  }

  /// The operation weights of both cell types, `softmax(α)` row by row: `[edges, ops]` each.
  public var operationWeights: OperationWeights {
    OperationWeights(normal: alphasNormal.value.softmax(alongAxis: -1), reduce: alphasReduce.value.softmax(alongAxis: -1))
  }

  /// Class logits `[N, classes]` for images `[N, inputChannels, H, W]`, mixing the operations
  /// by `softmax(α)`.
  public func callAsFunction(_ images: Tensor) -> Tensor {
    callAsFunction(images, operationWeights: operationWeights)
  }

  /// Class logits `[N, classes]` for images `[N, inputChannels, H, W]`, mixing every edge's
  /// operations by the given `[edges, ops]` weights instead of `softmax(α)` (SDARTS' weight
  /// step uses perturbed probabilities, SPEC-ROBUST §2). PC-DARTS' edge weights still come
  /// from β.
  public func callAsFunction(_ images: Tensor, operationWeights: OperationWeights) -> Tensor {
    let (normalWeights, reduceWeights) = (operationWeights.normal, operationWeights.reduce)
    let topology = configuration.topology
    let normalEdges = betasNormal.map { Self.normalizedEdgeWeights($0.value, topology: topology) }
    let reduceEdges = betasReduce.map { Self.normalizedEdgeWeights($0.value, topology: topology) }
    var (s0, s1): (Tensor, Tensor)
    if let stem {
      s0 = stem(images)
      s1 = s0
    } else {
      s0 = stem0!(images)
      s1 = stem1!(s0)
    }
    for cell in cells {
      let next = cell.isReduction
        ? cell(s0, s1, weights: reduceWeights, edgeWeights: reduceEdges, auxiliaryWeight: auxiliarySkipBeta)
        : cell(s0, s1, weights: normalWeights, edgeWeights: normalEdges, auxiliaryWeight: auxiliarySkipBeta)
      (s0, s1) = (s1, next)
    }
    let pooled = s1.globalAveragePooled()
    return classifier(pooled.reshaped(to: [pooled.shape[0], pooled.shape[1]]))
  }

  /// The architecture parameters with their names, in the reference optimiser order
  /// (alphas_normal, alphas_reduce, betas_normal, betas_reduce).
  public var architectureParameters: [(name: String, parameter: Parameter)] {
    namedParameters(.architecture)
  }
}

