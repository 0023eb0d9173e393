import NN
import SearchSpace
import TensorCore

/// A recurrent cell over a whole BPTT segment: the evaluation cell of a genotype
/// (``RecurrentCell``) or the search cell of all operations (``RecurrentSearchCell``).
public protocol RecurrentCellModule: Module {
  /// E, the width of the inputs (the embedding).
  var inputSize: Int { get }
  /// H, the width of the hidden state.
  var hiddenSize: Int { get }
  /// The outputs `h_1 … h_T`, `[T·B, H]` time-major, and `h_T` `[B, H]`, for inputs
  /// `[T·B, E]` (time-major) and the hidden state `h_0` `[B, H]`.
  func callAsFunction(_ inputs: Tensor, steps: Int, hidden: Tensor, masks: RecurrentCellMasks) -> (outputs: Tensor, hidden: Tensor)
}

extension RecurrentPrimitive {
  /// The activation applied to a node's candidate (`none` gives zeros).
  public func applied(to x: Tensor) -> Tensor {
    switch self {
    case .none: Tensor.zeros(x.shape, on: x.backend)
    case .tanh: x.tanh()
    case .relu: x.relu()
    case .sigmoid: x.sigmoid()
    case .identity: x
    }
  }
}

/// The work both cells share (SPEC-RNN §1): the input half of the highway node, batched over
/// all time steps in one product, and the gated update `s + σ(a) ⊙ (f(b) − s)` of `[a | b]`.
enum RecurrentCellSteps {
  /// `(x ⊙ m_x) · W₀[0..<E]`, `[T·B, 2H]`, for inputs `[T·B, E]`.
  static func inputProjection(_ inputs: Tensor, steps: Int, batch: Int, mask: Tensor?, weight w0: Tensor) -> Tensor {
    let e = inputs.shape[1]
    let masked = mask.map { (inputs.reshaped(to: [steps, batch, e]) * $0.reshaped(to: [1, batch, e])).reshaped(to: [steps * batch, e]) } ?? inputs
    return Tensor.matmul(masked, w0.rows(0..<e))
  }

  /// `rows` states `[rows·B, H]` with the hidden mask `[B, H]` applied to each block of `B`.
  static func masked(_ states: Tensor, mask: Tensor?) -> Tensor {
    guard let mask else { return states }
    let (b, h) = (mask.shape[0], mask.shape[1])
    let blocks = states.shape[0] / b
    return blocks == 1 ? states * mask : (states.reshaped(to: [blocks, b, h]) * mask.reshaped(to: [1, b, h])).reshaped(to: [blocks * b, h])
  }

  /// The gate `σ(a)` and the candidate `b` of `[a | b]` (`[rows, 2H]`: the first H columns
  /// are the gate).
  static func split(_ preactivation: Tensor) -> (gate: Tensor, candidate: Tensor) {
    let (rows, h) = (preactivation.shape[0], preactivation.shape[1] / 2)
    return (
      preactivation.sliced(lower: [0, 0], upper: [rows, h]).sigmoid(),
      preactivation.sliced(lower: [0, h], upper: [rows, 2 * h])
    )
  }

  /// The highway node `s₀ = h + σ(a) ⊙ (tanh(b) − h)` of step `t`, with `[a | b]` the step's
  /// input projection plus `(h ⊙ m_h) · W₀[E..<E+H]`.
  static func highway(_ hidden: Tensor, inputProjection: Tensor, step t: Int, mask: Tensor?, hiddenWeight: Tensor) -> Tensor {
    let b = hidden.shape[0]
    let pre = inputProjection.rows((t * b)..<((t + 1) * b)) + Tensor.matmul(masked(hidden, mask: mask), hiddenWeight)
    let (gate, candidate) = split(pre)
    return hidden + gate * (candidate.tanh() - hidden)
  }
}

/// The DARTS recurrent cell of a genotype, evaluation form (SPEC-RNN §1, `DARTSCell`): the
/// highway node s₀, then node n = 1…S as `s_p + σ(a) ⊙ (f(b) − s_p)` with
/// `[a | b] = (s_p ⊙ m_h) · W_n` for its genotype entry `(f, p)`, and the output
/// `h_t = mean_{k ∈ concat} s_k`. No biases, no batch normalisation.
///
/// Parameters `_W0` `[(E + H), 2H]` and `_Ws.0 … _Ws.{S−1}` `[H, 2H]`, applied as `x · W` (the
/// reference's layout and names, `rnns.0._W0`).
public final class RecurrentCell: Module, RecurrentCellModule {
  public let w0: Parameter
  public let ws: [Parameter]
  public let genotype: RecurrentGenotype
  public let inputSize: Int
  public let hiddenSize: Int

  /// A cell with every matrix `U(−initRange, initRange)` (0.04 in the reference).
  public init(genotype: RecurrentGenotype, inputSize: Int, hiddenSize: Int, initRange: Float = 0.04, using factory: inout ParameterFactory) {
    (self.genotype, self.inputSize, self.hiddenSize) = (genotype, inputSize, hiddenSize)
    w0 = factory.uniform([inputSize + hiddenSize, 2 * hiddenSize], bound: initRange)
    ws = genotype.recurrent.map { _ in factory.uniform([hiddenSize, 2 * hiddenSize], bound: initRange) }
  }

  public override func referenceName(forProperty label: String) -> String? {
    ["w0": "_W0", "ws": "_Ws"][label] ?? label
  }

  public func callAsFunction(_ inputs: Tensor, steps: Int, hidden: Tensor, masks: RecurrentCellMasks) -> (outputs: Tensor, hidden: Tensor) {
    let (e, h) = (inputSize, hiddenSize)
    let projection = RecurrentCellSteps.inputProjection(inputs, steps: steps, batch: hidden.shape[0], mask: masks.x, weight: w0.value)
    let hiddenWeight = w0.value.rows(e..<(e + h))
    var state = hidden
    var outputs: [Tensor] = []
    for t in 0..<steps {
      var nodes = [RecurrentCellSteps.highway(state, inputProjection: projection, step: t, mask: masks.h, hiddenWeight: hiddenWeight)]
      for (n, edge) in genotype.recurrent.enumerated() {
        let predecessor = nodes[edge.input]
        let (gate, candidate) = RecurrentCellSteps.split(Tensor.matmul(RecurrentCellSteps.masked(predecessor, mask: masks.h), ws[n].value))
        nodes.append(predecessor + gate * (edge.operation.applied(to: candidate) - predecessor))
      }
      state = genotype.concat.dropFirst().reduce(nodes[genotype.concat[0]]) { $0 + nodes[$1] } * (1 / Float(genotype.concat.count))
      outputs.append(state)
    }
    return (Tensor.concatenated(outputs, alongAxis: 0), state)
  }
}
