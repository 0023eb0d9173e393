extension Tensor {
  /// Whether every element is finite (no NaN, no ±∞).
  public var isFinite: Bool { backend.allFinite(storage, count: count) }
}

extension Dictionary where Key == String, Value == Tensor {
  /// The first name, in sorted order, of a tensor holding a NaN or an infinity; nil when every
  /// tensor is finite. The one finiteness check of state dicts and checkpoints: a scan of each
  /// tensor, no copy.
  public var firstNonFiniteName: String? {
    lazy.filter { !$0.value.isFinite }.map(\.key).min()
  }
}

/// A quantity that must be a finite number and is not: a loss, a gradient, a tensor of a
/// network or a checkpoint. Its description is one line naming the quantity (and its value
/// when it is one number), e.g. `the training loss is nan`.
public struct NonFiniteError: Error, CustomStringConvertible, Equatable, Sendable {
  public let description: String

  /// - Parameters:
  ///   - quantity: what is not finite (`the training loss`, `after the step, tensor alphas_normal`).
  ///   - value: its value, when it is one number.
  public init(_ quantity: String, value: Double? = nil) {
    description = value.map { "\(quantity) is \($0)" } ?? "\(quantity) is not finite"
  }

  /// Throws unless `value` is finite.
  public static func check<Value: BinaryFloatingPoint>(_ value: Value, _ quantity: String) throws(NonFiniteError) {
    guard value.isFinite else { throw NonFiniteError(quantity, value: Double(value)) }
  }

  /// Throws naming the first tensor of `tensors` (sorted by name) that is not finite `after`
  /// a moment (`the step`): the check of a run's weights, buffers, α/β and optimiser state.
  public static func check(_ tensors: [String: Tensor], after moment: String) throws(NonFiniteError) {
    if let name = tensors.firstNonFiniteName { throw NonFiniteError("after \(moment), tensor \(name)") }
  }
}
