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

/// The auxiliary head (SPEC §6.1, §6.2): ReLU → AvgPool 5×5 (padding excluded) → 2×2 → 1×1
/// conv 128 → BN → ReLU → 2×2 conv 768 → [BN 768] → ReLU → Linear(768 → classes).
///
/// The pooling always yields 2×2: for an `inputSize` s of 6…10 it is 5×5 with stride s − 5,
/// which is the reference's stride 3 on CIFAR's 8×8 and stride 2 on ImageNet's 7×7 (and on the
/// 7×7 of 28×28 inputs); larger inputs pool ⌈s/2⌉×⌈s/2⌉ windows with stride s − ⌈s/2⌉. Inputs
/// under 6×6 are not supported (see `EvaluationNetwork.inputSizeProblem`).
///
/// Reference names `features.2` (conv), `features.3` (BN), `features.5` (conv), `features.6`
/// (BN 768 when `featureNorm`, the CIFAR and P-DARTS ImageNet heads; without it, as in the
/// DARTS and PC-DARTS ImageNet heads, `features.6` is the parameter-free ReLU), `classifier`.
public final class AuxiliaryHead: Module {
  public let features: Sequential
  public let classifier: Linear

  /// - Parameters:
  ///   - channels: channels of the cell output it reads (576 for CIFAR C = 36).
  ///   - inputSize: height and width of that output (8 for CIFAR, 7 for ImageNet).
  ///   - featureNorm: the BN(768) after the 2×2 convolution.
  public init(channels: Int, classes: Int, inputSize: Int, featureNorm: Bool = true, using factory: inout ParameterFactory) {
    let kernel = max(5, (inputSize + 1) / 2)
    var layers: [any Layer] = [
      ReLU(),
      AvgPool2d(kernel: kernel, stride: max(1, inputSize - kernel), padding: 0, countIncludePad: false),
      Conv2d(channels, 128, kernel: 1, using: &factory),
      BatchNorm2d(128, using: &factory),
      ReLU(),
      Conv2d(128, 768, kernel: 2, using: &factory),
    ]
    if featureNorm { layers.append(BatchNorm2d(768, using: &factory)) }
    layers.append(ReLU())
    features = Sequential(layers)
    classifier = Linear(768, classes, using: &factory)
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    let f = features(x)
    return classifier(f.reshaped(to: [f.shape[0], f.count / f.shape[0]]))
  }
}

/// The evaluation network built from a genotype (SPEC §1.4, §6.1, §6.2): a stem, L cells with
/// reductions at L/3 and 2L/3 (channels doubling there), an optional auxiliary head after cell
/// 2L/3, global average pooling and a linear classifier.
///
/// Two macro structures (`Stem`), as the reference's `NetworkCIFAR` and `NetworkImageNet`:
/// - `.cifar`: 3×3 conv (input channels → 3C) + BN; its output is both c_{k−2} and c_{k−1} of
///   cell 0. Names `stem.0`, `stem.1`.
/// - `.imageNet`: `stem0` = 3×3 conv stride 2 (→ C/2) + BN + ReLU + 3×3 conv stride 2 (→ C) +
///   BN, `stem1` = ReLU + 3×3 conv stride 2 (C → C) + BN; cell 0 reads stem0's output (twice
///   the resolution, so through a FactorizedReduce) and stem1's. 224×224 → 56 → 28; cells
///   28² (0–3), 14² (4–8), 7² (9–13) for L = 14. The reference pools its 7×7 head with
///   AvgPool2d(7); global average pooling equals it there and also serves other input sizes.
///
/// Parameter and buffer names equal the reference `state_dict` names (SPEC §1.6), auxiliary
/// head included. Published parameter counts exclude the auxiliary head
/// (`referenceParameterCount`): DARTS_V2 has 3,349,342 on CIFAR-10 (C = 36, L = 20) and
/// 4,718,752 on ImageNet (C = 48, L = 14, 1000 classes).
public final class EvaluationNetwork: Module {
  /// The macro structure: `NetworkCIFAR` or `NetworkImageNet` (SPEC §1.4, §6.2).
  public enum Stem: String, Sendable, Codable, CaseIterable {
    case cifar
    case imageNet = "imagenet"
  }

  /// The CIFAR stem, or the ImageNet `stem0` (its output is c_{k−2} of cell 0).
  public let stem: Sequential
  /// The ImageNet `stem1` (its output is c_{k−1} of cell 0); nil for the CIFAR stem.
  public let stem1: Sequential?
  public let cells: [EvaluationCell]
  public let auxiliaryHead: AuxiliaryHead?
  public let classifier: Linear
  public let stemKind: Stem
  private let auxiliaryPosition: Int

  /// - Parameters:
  ///   - channels: initial channels C (36 for CIFAR, 48 for ImageNet; even for `.imageNet`).
  ///   - layers: cells L (20 for CIFAR, 14 for ImageNet).
  ///   - inputChannels, inputSize: image channels and height = width (for the auxiliary
  ///     head's pooling; see `inputSizeProblem` for the sizes that work).
  ///   - stem: the macro structure.
  ///   - auxiliary: build the auxiliary head after cell 2L/3.
  ///   - auxiliaryFeatureNorm: its BN(768): true for CIFAR and P-DARTS ImageNet, false for
  ///     DARTS and PC-DARTS ImageNet (SPEC §6.2).
  public init(
    genotype: Genotype, channels: Int, layers: Int, classes: Int, inputChannels: Int = 3,
    inputSize: Int = 32, stem: Stem = .cifar, auxiliary: Bool, auxiliaryFeatureNorm: Bool = true,
    using factory: inout ParameterFactory
  ) {
    stemKind = stem
    var previousPrevious: Int, previous: Int
    var reductionPrevious: Bool
    switch stem {
    case .cifar:
      let stemChannels = 3 * channels
      self.stem = Sequential([Conv2d(inputChannels, stemChannels, kernel: 3, padding: 1, using: &factory), BatchNorm2d(stemChannels, using: &factory)])
      stem1 = nil
      (previousPrevious, previous, reductionPrevious) = (stemChannels, stemChannels, false)
    case .imageNet:
      self.stem = Sequential([
        Conv2d(inputChannels, channels / 2, kernel: 3, stride: 2, padding: 1, using: &factory),
        BatchNorm2d(channels / 2, using: &factory),
        ReLU(),
        Conv2d(channels / 2, channels, kernel: 3, stride: 2, padding: 1, using: &factory),
        BatchNorm2d(channels, using: &factory),
      ])
      stem1 = Sequential([ReLU(), Conv2d(channels, channels, kernel: 3, stride: 2, padding: 1, using: &factory), BatchNorm2d(channels, using: &factory)])
      (previousPrevious, previous, reductionPrevious) = (channels, channels, true)
    }
    var current = channels
    var cells: [EvaluationCell] = []
    var auxiliaryChannels = 0
    auxiliaryPosition = 2 * layers / 3
    for i in 0..<layers {
      let reduction = Self.isReduction(cell: i, layers: layers)
      if reduction { current *= 2 }
      let cell = EvaluationCell(
        genotype: genotype, previousPrevious: previousPrevious, previous: previous, channels: current,
        isReduction: reduction, reductionPrevious: reductionPrevious, using: &factory)
      cells.append(cell)
      reductionPrevious = reduction
      (previousPrevious, previous) = (previous, cell.concat.count * current)
      if i == auxiliaryPosition { auxiliaryChannels = previous }
    }
    self.cells = cells
    if auxiliary {
      let size = Self.spatialSizes(stem: stem, layers: layers, inputSize: inputSize).cells[auxiliaryPosition]
      auxiliaryHead = AuxiliaryHead(channels: auxiliaryChannels, classes: classes, inputSize: size, featureNorm: auxiliaryFeatureNorm, using: &factory)
    } else {
      auxiliaryHead = nil
    }
    classifier = Linear(previous, classes, using: &factory)
  }

  public override func referenceName(forProperty label: String) -> String? {
    switch label {
    case "stem": return stemKind == .imageNet ? "stem0" : "stem"
    case "auxiliaryHead": return "auxiliary_head"
    case "auxiliaryPosition", "stemKind": return nil
    default: return label
    }
  }

  /// Whether cell `i` of `layers` is a reduction cell (L/3 and 2L/3, SPEC §1.4).
  public static func isReduction(cell i: Int, layers: Int) -> Bool { i == layers / 3 || i == 2 * layers / 3 }

  /// Height (= width) of the stem outputs and of every cell output for square inputs of
  /// `inputSize`. Stride-2 layers give ⌈s/2⌉.
  public static func spatialSizes(stem: Stem, layers: Int, inputSize: Int) -> (s0: Int, s1: Int, cells: [Int]) {
    let half = { (s: Int) in (s + 1) / 2 }
    let (s0, s1) = stem == .cifar ? (inputSize, inputSize) : (half(half(inputSize)), half(half(half(inputSize))))
    var size = s1
    let cells = (0..<layers).map { i -> Int in
      if isReduction(cell: i, layers: layers) { size = half(size) }
      return size
    }
    return (s0, s1, cells)
  }

  /// Why an input of `inputSize`×`inputSize` does not fit the network, or nil when it does:
  /// every FactorizedReduce (ImageNet cell 0, the cell after each reduction, stride-2 skips)
  /// needs an even input size, and the auxiliary head needs at least 6×6 after cell 2L/3.
  /// CIFAR's 32 and 28 (MNIST) and ImageNet's 224 fit.
  public static func inputSizeProblem(stem: Stem, layers: Int, inputSize: Int, auxiliary: Bool) -> String? {
    let sizes = spatialSizes(stem: stem, layers: layers, inputSize: inputSize)
    if stem == .imageNet && sizes.s0 % 2 != 0 {
      return "input size \(inputSize) gives a \(sizes.s0)×\(sizes.s0) stem0 output; the ImageNet network needs it even (e.g. 224)"
    }
    for i in 0..<layers where isReduction(cell: i, layers: layers) {
      let before = i == 0 ? sizes.s1 : sizes.cells[i - 1]
      if before % 2 != 0 {
        return "input size \(inputSize) reaches reduction cell \(i) at \(before)×\(before); reductions need even sizes"
      }
    }
    if auxiliary, layers > 0, sizes.cells[2 * layers / 3] < 6 {
      let s = sizes.cells[2 * layers / 3]
      return "input size \(inputSize) leaves \(s)×\(s) for the auxiliary head after cell \(2 * layers / 3); it needs at least 6×6"
    }
    return nil
  }

  /// Parameters counted as the reference logs them (everything but the auxiliary head).
  public var referenceParameterCount: Int {
    namedParameters(.weight).filter { !$0.name.hasPrefix("auxiliary") }.reduce(0) { $0 + $1.parameter.value.count }
  }

  /// Logits, and the auxiliary logits in training mode when the network has the head.
  /// Drop path with probability `dropPath` applies in training mode only.
  public func callAsFunction(_ images: Tensor, dropPath: Float = 0, generator: inout SeededGenerator) -> (logits: Tensor, auxiliary: Tensor?) {
    var s0 = stem(images)
    var s1 = stem1.map { $0(s0) } ?? s0
    var auxiliaryLogits: Tensor?
    for (i, cell) in cells.enumerated() {
      (s0, s1) = (s1, cell(s0, s1, dropPath: dropPath, generator: &generator))
      if i == auxiliaryPosition, isTraining, let auxiliaryHead { auxiliaryLogits = auxiliaryHead(s1) }
    }
    let pooled = s1.globalAveragePooled()
    return (classifier(pooled.reshaped(to: [pooled.shape[0], pooled.shape[1]])), auxiliaryLogits)
  }
}
