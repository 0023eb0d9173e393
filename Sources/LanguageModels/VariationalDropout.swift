import TensorCore

/// The five dropout probabilities of a DARTS recurrent language model (SPEC-RNN §3). All are
/// variational: one mask per forward call (one BPTT segment), reused at every time step, and
/// none in evaluation mode.
public struct RecurrentDropouts: Codable, Sendable, Equatable {
  /// `dropout`: the cell output before the decoder, mask `[1, B, H]`.
  public var output: Float
  /// `dropouth`: `h_{t−1}` entering `W₀` and every node input entering `W_n` (one shared
  /// mask `[B, H]`).
  public var hidden: Float
  /// `dropoutx`: `x_t` entering `W₀`, mask `[B, E]`.
  public var cellInput: Float
  /// `dropouti`: the embedding output, mask `[1, B, E]`.
  public var embeddingOutput: Float
  /// `dropoute`: whole rows of the embedding matrix before the lookup, mask `[V, 1]`.
  public var embedding: Float

  public init(output: Float, hidden: Float, cellInput: Float, embeddingOutput: Float, embedding: Float) {
    (self.output, self.hidden, self.cellInput, self.embeddingOutput, self.embedding) = (output, hidden, cellInput, embeddingOutput, embedding)
  }

  /// The search recipe (SPEC-RNN §6.1): 0.75 / 0.25 / 0.75 / 0.2 / 0.
  public static let search = RecurrentDropouts(output: 0.75, hidden: 0.25, cellInput: 0.75, embeddingOutput: 0.2, embedding: 0)
  /// The PTB evaluation recipe (SPEC-RNN §8.1): 0.75 / 0.25 / 0.75 / 0.2 / 0.1.
  public static let evaluation = RecurrentDropouts(output: 0.75, hidden: 0.25, cellInput: 0.75, embeddingOutput: 0.2, embedding: 0.1)
  /// No dropout at all.
  public static let none = RecurrentDropouts(output: 0, hidden: 0, cellInput: 0, embeddingOutput: 0, embedding: 0)

  /// The first probability outside `0 ≤ p < 1`, named by its flag, or nil.
  public var problem: String? {
    for (flag, p) in [("--dropout", output), ("--dropouth", hidden), ("--dropoutx", cellInput), ("--dropouti", embeddingOutput), ("--dropoute", embedding)]
    where !(p >= 0 && p < 1) {
      return "\(flag) must be in [0, 1), got \(p)"
    }
    return nil
  }
}

extension Tensor {
  /// A dropout mask of `shape`: each element `1/(1 − p)` with probability `1 − p`, else 0
  /// (a Bernoulli draw scaled to keep the expectation), from `generator`.
  public static func dropoutMask(_ shape: [Int], probability p: Float, generator: inout SeededGenerator, on backend: any Backend) -> Tensor {
    let keep = 1 - p
    let values = (0..<shape.reduce(1, *)).map { _ in generator.nextUniform() < keep ? 1 / keep : 0 }
    return Tensor(shape: shape, scalars: values, on: backend)
  }
}

/// The masks of one forward call of a recurrent cell: `x` `[B, E]` on the cell input entering
/// `W₀`, `h` `[B, H]` on every hidden state entering a matrix (`nil`: no dropout).
public struct RecurrentCellMasks {
  public var x: Tensor?
  public var h: Tensor?

  public init(x: Tensor?, h: Tensor?) {
    (self.x, self.h) = (x, h)
  }

  /// No masks (evaluation mode).
  public static var none: RecurrentCellMasks { RecurrentCellMasks(x: nil, h: nil) }
}
