import NN
import SearchSpace
import TensorCore

/// The DARTS recurrent search cell (SPEC-RNN §2, `DARTSCellSearch`): every node mixes every
/// predecessor through every operation with the weights `softmax(α)`.
///
/// Node n (1…S) has one matrix `W_n` shared by its n predecessors and all operations; all
/// predecessors go through it in one `[n·B, H] · [H, 2H]` product. With
/// `p_{j,k} = softmax(α)[off(n) + j, k]` (`off(n) = n(n−1)/2`, column order
/// `none, tanh, relu, sigmoid, identity`):
/// `s_n = BN(Σ_j Σ_{k ≠ none} p_{j,k} (s_j + c_j ⊙ (f_k(b_j) − s_j)))`, computed as
/// `Σ_j (P_j s_j + c_j ⊙ (Σ_k p_{j,k} f_k(b_j) − P_j s_j))` with `P_j = Σ_{k ≠ none} p_{j,k}`
/// (`none` keeps its softmax mass and adds nothing). One `BatchNorm1d(H, affine: false)` (`bn`)
/// normalises s₀ and every node sum. Output: the mean of nodes 1…S.
///
/// Parameters `_W0`, `_Ws.0 … _Ws.{S−1}`, buffers `bn.running_mean`, `bn.running_var`, and the
/// architecture `alphas` `[S(S+1)/2, 5]` (the reference's `weights`, initialised `1e-3·N(0, 1)`).
public final class RecurrentSearchCell: Module, RecurrentCellModule {
  public let w0: Parameter
  public let ws: [Parameter]
  public let bn: BatchNorm2d
  public let alphas: Parameter
  public let inputSize: Int
  public let hiddenSize: Int
  /// S, the intermediate nodes (8 in DARTS).
  public let nodes: Int

  /// The operations of α's columns after `none`.
  static let mixedOperations: [RecurrentPrimitive] = [.tanh, .relu, .sigmoid, .identity]

  public init(inputSize: Int, hiddenSize: Int, nodes: Int = 8, initRange: Float = 0.04, using factory: inout ParameterFactory) {
    (self.inputSize, self.hiddenSize, self.nodes) = (inputSize, hiddenSize, nodes)
    w0 = factory.uniform([inputSize + hiddenSize, 2 * hiddenSize], bound: initRange)
    ws = (0..<nodes).map { _ in factory.uniform([hiddenSize, 2 * hiddenSize], bound: initRange) }
    bn = BatchNorm2d(hiddenSize, affine: false, using: &factory)
    alphas = factory.normal([nodes * (nodes + 1) / 2, RecurrentPrimitive.allCases.count], scale: 1e-3, kind: .architecture)
  }

  public override func referenceName(forProperty label: String) -> String? {
    ["w0": "_W0", "ws": "_Ws"][label] ?? label
  }

  /// The first α row of node `n`'s edges.
  static func edgeOffset(_ n: Int) -> Int { n * (n - 1) / 2 }

  public func callAsFunction(_ inputs: Tensor, steps: Int, hidden: Tensor, masks: RecurrentCellMasks) -> (outputs: Tensor, hidden: Tensor) {
    let (e, h, b) = (inputSize, hiddenSize, hidden.shape[0])
    let projection = RecurrentCellSteps.inputProjection(inputs, steps: steps, batch: b, mask: masks.x, weight: w0.value)
    let hiddenWeight = w0.value.rows(e..<(e + h))
    let probabilities = alphas.value.softmax(alongAxis: -1)
    // Per node: the mixing weights of its edges `[n, 1, 1]` per operation, and their total.
    let mixing = (1...nodes).map { n -> (operations: [Tensor], total: Tensor) in
      let rows = probabilities.sliced(lower: [Self.edgeOffset(n), 1], upper: [Self.edgeOffset(n) + n, RecurrentPrimitive.allCases.count])
      let operations = Self.mixedOperations.indices.map { k in rows.sliced(lower: [0, k], upper: [n, k + 1]).reshaped(to: [n, 1, 1]) }
      return (operations, rows.summed(alongAxes: [1]).reshaped(to: [n, 1, 1]))
    }
    var state = hidden
    var outputs: [Tensor] = []
    for t in 0..<steps {
      var states = [normalized(RecurrentCellSteps.highway(state, inputProjection: projection, step: t, mask: masks.h, hiddenWeight: hiddenWeight))]
      for n in 1...nodes {
        let predecessors = Tensor.concatenated(states, alongAxis: 0)  // [n·B, H]
        let (gate, candidate) = RecurrentCellSteps.split(Tensor.matmul(RecurrentCellSteps.masked(predecessors, mask: masks.h), ws[n - 1].value))
        let weights = mixing[n - 1]
        var mixed = Self.mixedOperations[0].applied(to: candidate).reshaped(to: [n, b, h]) * weights.operations[0]
        for k in 1..<Self.mixedOperations.count {
          mixed = mixed + Self.mixedOperations[k].applied(to: candidate).reshaped(to: [n, b, h]) * weights.operations[k]
        }
        let kept = predecessors.reshaped(to: [n, b, h]) * weights.total
        let sum = (kept + gate.reshaped(to: [n, b, h]) * (mixed - kept)).summed(alongAxes: [0])
        states.append(normalized(sum))
      }
      state = states[2...].reduce(states[1]) { $0 + $1 } * (1 / Float(nodes))
      outputs.append(state)
    }
    return (Tensor.concatenated(outputs, alongAxis: 0), state)
  }

  /// The shared `bn` on `[B, H]` (over the B rows per feature).
  private func normalized(_ x: Tensor) -> Tensor {
    bn(x.reshaped(to: [x.shape[0], x.shape[1], 1, 1])).reshaped(to: x.shape)
  }

  /// The derived cell (SPEC-RNN §6.6, k = 1): per node the predecessor whose strongest
  /// non-`none` operation is strongest, with that operation; ties go to the lowest index.
  /// Concat: nodes 1…S.
  public func derivedGenotype() -> RecurrentGenotype {
    let p = alphas.value.softmax(alongAxis: -1).scalars
    let columns = RecurrentPrimitive.allCases.count
    let edges = (1...nodes).map { n -> RecurrentGenotype.Edge in
      var best = (input: 0, operation: 1, weight: -Float.infinity)
      for j in 0..<n {
        for k in 1..<columns where p[(Self.edgeOffset(n) + j) * columns + k] > best.weight {
          best = (j, k, p[(Self.edgeOffset(n) + j) * columns + k])
        }
      }
      return RecurrentGenotype.Edge(RecurrentPrimitive.allCases[best.operation], best.input)
    }
    return RecurrentGenotype(recurrent: edges, concat: Array(1...nodes))
  }
}
