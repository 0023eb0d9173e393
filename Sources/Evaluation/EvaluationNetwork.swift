import NN
import SearchSpace
import TensorCore

/// A cell built from a genotype (SPEC §3.1, §6.1): each intermediate node sums two operations
/// of earlier nodes; the output concatenates the genotype's concat nodes. Affine BNs, pools
/// without BN. Any number of nodes and any concat list (NASNet, AmoebaNet).
public final class EvaluationCell: Module {
  public let preprocess0: any Layer
  public let preprocess1: ReLUConvBN
  public let operations: [any Layer]
  public let inputs: [Int]
  public let concat: [Int]
  public let isReduction: Bool
  /// Whether operation `j` is an identity (drop path never applies to it).
  private let isIdentity: [Bool]

  public init(
    genotype: Genotype, previousPrevious: Int, previous: Int, channels: Int, isReduction: Bool,
    reductionPrevious: Bool, using factory: inout ParameterFactory
  ) {
    (preprocess0, preprocess1) = makePreprocessing(
      previousPrevious: previousPrevious, previous: previous, channels: channels,
      reductionPrevious: reductionPrevious, affine: true, using: &factory)
    let edges = isReduction ? genotype.reduce : genotype.normal
    operations = edges.map { edge in
      makeOperation(edge.operation, channels: channels, stride: isReduction && edge.input < 2 ? 2 : 1, affine: true, poolNorm: false, using: &factory)
    }
    isIdentity = operations.map { $0 is Identity }
    inputs = edges.map(\.input)
    concat = isReduction ? genotype.reduceConcat : genotype.normalConcat
    self.isReduction = isReduction
  }

  public override func referenceName(forProperty label: String) -> String? {
    switch label {
    case "operations": return "_ops"
    case "preprocess0", "preprocess1": return label
    default: return nil
    }
  }

  /// The cell output for inputs c_{k−2}, c_{k−1}; drop path with probability `dropPath`
  /// (training mode only) on every non-identity operation.
  public func callAsFunction(_ s0: Tensor, _ s1: Tensor, dropPath: Float, generator: inout SeededGenerator) -> Tensor {
    var states = [preprocess0(s0), preprocess1(s1)]
    for node in 0..<(operations.count / 2) {
      var terms: [Tensor] = []
      for j in [2 * node, 2 * node + 1] {
        var h = operations[j](states[inputs[j]])
        if isTraining && dropPath > 0 && !isIdentity[j] { h = h.droppingPath(probability: dropPath, generator: &generator) }
        terms.append(h)
      }
      states.append(terms[0] + terms[1])
    }
    return Tensor.concatenated(concat.map { states[$0] }, alongAxis: 1)
  }
}

/// The CIFAR auxiliary head (SPEC §6.1): ReLU → AvgPool 5×5 (stride 3 on 8×8 inputs, stride 2
/// on 7×7, count_include_pad false) → 1×1 conv 128 → BN → ReLU → 2×2 conv 768 → BN → ReLU →
/// Linear(768 → classes). Reference names `features.2`, `features.3`, `features.5`,
/// `features.6`, `classifier`.
public final class AuxiliaryHead: Module {
  public let features: Sequential
  public let classifier: Linear

  public init(channels: Int, classes: Int, inputSize: Int, using factory: inout ParameterFactory) {
    features = Sequential([
      ReLU(),
      AvgPool2d(kernel: 5, stride: inputSize >= 8 ? 3 : 2, padding: 0, countIncludePad: false),
      Conv2d(channels, 128, kernel: 1, using: &factory),
      BatchNorm2d(128, using: &factory),
      ReLU(),
      Conv2d(128, 768, kernel: 2, using: &factory),
      BatchNorm2d(768, using: &factory),
      ReLU(),
    ])
    classifier = Linear(768, classes, using: &factory)
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    let f = features(x)
    return classifier(f.reshaped(to: [f.shape[0], f.count / f.shape[0]]))
  }
}

/// The CIFAR evaluation network built from a genotype (`NetworkCIFAR`, SPEC §1.4, §6.1): stem
/// (3×3 conv to 3C + BN), L cells with reductions at L/3 and 2L/3, an optional auxiliary head
/// after cell 2L/3, global pooling and a classifier. Names equal the reference names; the
/// published parameter counts exclude the auxiliary head (DARTS_V2, C = 36, L = 20, 10 classes:
/// 3,349,342).
public final class EvaluationNetwork: Module {
  public let stem: Sequential
  public let cells: [EvaluationCell]
  public let auxiliaryHead: AuxiliaryHead?
  public let classifier: Linear
  private let auxiliaryPosition: Int

  public init(
    genotype: Genotype, channels: Int, layers: Int, classes: Int, inputChannels: Int = 3,
    inputSize: Int = 32, auxiliary: Bool, using factory: inout ParameterFactory
  ) {
    let stemChannels = 3 * channels
    stem = Sequential([Conv2d(inputChannels, stemChannels, kernel: 3, padding: 1, using: &factory), BatchNorm2d(stemChannels, using: &factory)])
    var (previousPrevious, previous, current) = (stemChannels, stemChannels, channels)
    var reductionPrevious = false
    var cells: [EvaluationCell] = []
    var auxiliaryChannels = 0
    var size = inputSize
    var auxiliarySize = inputSize
    auxiliaryPosition = 2 * layers / 3
    for i in 0..<layers {
      let reduction = i == layers / 3 || i == 2 * layers / 3
      if reduction {
        current *= 2
        size = (size + 1) / 2
      }
      let cell = EvaluationCell(
        genotype: genotype, previousPrevious: previousPrevious, previous: previous, channels: current,
        isReduction: reduction, reductionPrevious: reductionPrevious, using: &factory)
      cells.append(cell)
      reductionPrevious = reduction
      (previousPrevious, previous) = (previous, cell.concat.count * current)
      if i == auxiliaryPosition {
        auxiliaryChannels = previous
        auxiliarySize = size
      }
    }
    self.cells = cells
    auxiliaryHead = auxiliary ? AuxiliaryHead(channels: auxiliaryChannels, classes: classes, inputSize: auxiliarySize, using: &factory) : nil
    classifier = Linear(previous, classes, using: &factory)
  }

  public override func referenceName(forProperty label: String) -> String? {
    switch label {
    case "auxiliaryHead": return "auxiliary_head"
    case "auxiliaryPosition": return nil
    default: return label
    }
  }

  /// Parameters counted as the reference logs them (everything but the auxiliary head).
  public var referenceParameterCount: Int {
    namedParameters(.weight).filter { !$0.name.hasPrefix("auxiliary") }.reduce(0) { $0 + $1.parameter.value.count }
  }

  /// Logits, and the auxiliary logits in training mode when the network has the head.
  public func callAsFunction(_ images: Tensor, dropPath: Float = 0, generator: inout SeededGenerator) -> (logits: Tensor, auxiliary: Tensor?) {
    var s0 = stem(images)
    var s1 = s0
    var auxiliaryLogits: Tensor?
    for (i, cell) in cells.enumerated() {
      (s0, s1) = (s1, cell(s0, s1, dropPath: dropPath, generator: &generator))
      if i == auxiliaryPosition, isTraining, let auxiliaryHead { auxiliaryLogits = auxiliaryHead(s1) }
    }
    let pooled = s1.globalAveragePooled()
    return (classifier(pooled.reshaped(to: [pooled.shape[0], pooled.shape[1]])), auxiliaryLogits)
  }
}
