import NN
import SearchSpace
import TensorCore

/// A word embedding `[V, E]` (reference name `encoder.weight`).
public final class Embedding: Module {
  public let weight: Parameter

  public init(vocabulary: Int, width: Int, initRange: Float, using factory: inout ParameterFactory) {
    weight = factory.uniform([vocabulary, width], bound: initRange)
  }
}

/// The decoder's own parameter, its bias `[V]` (`decoder.bias`); its weight is the encoder's.
public final class TiedDecoder: Module {
  public let bias: Parameter

  public init(vocabulary: Int, using factory: inout ParameterFactory) {
    bias = factory.constant(0, shape: [vocabulary], kind: .weight)
  }
}

/// One forward call of a ``RecurrentLanguageModel`` over a segment of T steps of B streams.
public struct RecurrentForward {
  /// Next-token logits `[T·B, V]`, time-major.
  public var logits: Tensor
  /// The cell outputs before the output dropout `[T·B, H]` (for the TAR term).
  public var raw: Tensor
  /// `h_T` `[B, H]`, to carry (detached) into the next segment.
  public var hidden: Tensor
}

/// The DARTS recurrent language model (SPEC-RNN §3, `RNNModel`): embedding (with row dropout),
/// locked dropout, the cell, locked dropout, and a decoder tied to the embedding (`logits =
/// o · Wᵀ + bias`, the undropped weight). E = H.
///
/// Parameters in the reference order and names: `encoder.weight` `[V, E]`, `rnns.0._W0`,
/// `rnns.0._Ws.*`, `decoder.bias` `[V]` (`decoder.weight` is `encoder.weight`, counted once):
/// `V(H + 1) + (E + H)·2H + S·H·2H` values, 4,810,000 for the search model (H = 300,
/// V = 10,000) and 22,960,000 for the PTB evaluation model (H = 850).
public final class RecurrentLanguageModel<Cell: RecurrentCellModule>: Module {
  public let encoder: Embedding
  public let rnns: [Cell]
  public let decoder: TiedDecoder
  public var dropouts: RecurrentDropouts

  /// - Precondition: the cell's input and hidden widths are equal (the reference asserts it).
  public init(vocabulary: Int, cell: Cell, dropouts: RecurrentDropouts, initRange: Float = 0.04, using factory: inout ParameterFactory) {
    precondition(cell.inputSize == cell.hiddenSize, "the tied decoder needs E = H, got \(cell.inputSize) and \(cell.hiddenSize)")
    encoder = Embedding(vocabulary: vocabulary, width: cell.inputSize, initRange: initRange, using: &factory)
    rnns = [cell]
    decoder = TiedDecoder(vocabulary: vocabulary, using: &factory)
    self.dropouts = dropouts
  }

  public override func referenceName(forProperty label: String) -> String? {
    label == "dropouts" ? nil : label
  }

  public var cell: Cell { rnns[0] }
  public var vocabulary: Int { encoder.weight.value.shape[0] }

  /// Zeros `[B, H]`: the hidden state at the start of every pass over a split.
  public func initialHidden(batch: Int) -> Tensor {
    Tensor.zeros([batch, cell.hiddenSize], on: encoder.weight.value.backend)
  }

  /// The logits for `tokens` (`[T·B]` ids, time-major, each in `0..<V`) from `hidden`
  /// `[B, H]`. In training mode every dropout draws one fresh mask from `generator`.
  public func callAsFunction(_ tokens: [Int], steps: Int, hidden: Tensor, generator: inout SeededGenerator) -> RecurrentForward {
    let (b, e) = (hidden.shape[0], cell.inputSize)
    precondition(tokens.count == steps * b, "\(tokens.count) tokens for \(steps) steps of \(b) streams")
    let backend = hidden.backend
    func mask(_ shape: [Int], _ p: Float) -> Tensor? {
      isTraining && p > 0 ? Tensor.dropoutMask(shape, probability: p, generator: &generator, on: backend) : nil
    }
    let table = mask([vocabulary, 1], dropouts.embedding).map { encoder.weight.value * $0 } ?? encoder.weight.value
    var embedded = table.gatheringRows(tokens)  // [T·B, E]
    if let m = mask([1, b, e], dropouts.embeddingOutput) {
      embedded = (embedded.reshaped(to: [steps, b, e]) * m).reshaped(to: [steps * b, e])
    }
    let masks = RecurrentCellMasks(x: mask([b, e], dropouts.cellInput), h: mask([b, cell.hiddenSize], dropouts.hidden))
    let (raw, last) = cell(embedded, steps: steps, hidden: hidden, masks: masks)
    var output = raw
    if let m = mask([1, b, cell.hiddenSize], dropouts.output) {
      output = (raw.reshaped(to: [steps, b, cell.hiddenSize]) * m).reshaped(to: [steps * b, cell.hiddenSize])
    }
    return RecurrentForward(logits: output.linear(weight: encoder.weight.value, bias: decoder.bias.value), raw: raw, hidden: last)
  }

  /// The mean negative log-likelihood of `targets` (`[T·B]`, natural log) under `forward`'s
  /// logits (log-softmax over the vocabulary, SPEC-RNN §4).
  public static func negativeLogLikelihood(_ forward: RecurrentForward, targets: [Int]) -> Tensor {
    forward.logits.crossEntropy(labels: targets)
  }

  /// Temporal activation regularisation `β · mean((r_{t+1} − r_t)²)` over the raw outputs of
  /// a segment of `steps` steps (0 for a one-step segment).
  public static func temporalActivationPenalty(_ forward: RecurrentForward, steps: Int, beta: Float) -> Tensor {
    let rows = forward.raw.shape[0]
    let b = rows / steps
    guard steps > 1, beta > 0 else { return Tensor.zeros([], on: forward.raw.backend) }
    // The mean over the (T − 1)·B·H differences, as the reference averages.
    let difference = forward.raw.rows(b..<rows) - forward.raw.rows(0..<(rows - b))
    return (difference * difference).mean() * beta
  }
}
