/// One recorded operation of the computation graph (or a leaf that requires a gradient).
///
/// `backward(upstream, needed)` maps the gradient of the operation's output to the gradients of
/// its inputs, computing only those whose `needed` flag is set (nil for the others). It holds
/// the tensors the rule needs (saved activations); the reverse pass drops it as soon as it has
/// run, which releases those tensors.
final class GradientNode: @unchecked Sendable {
  let inputs: [GradientNode?]
  var backward: ((Tensor, [Bool]) -> [Tensor?])?
  let shape: [Int]
  /// The operation's name, for error messages and debugging.
  let name: String

  init(leafShape: [Int]) {
    inputs = []
    backward = nil
    shape = leafShape
    name = "leaf"
  }

  init(name: String, inputs: [GradientNode?], shape: [Int], backward: @escaping (Tensor, [Bool]) -> [Tensor?]) {
    self.name = name
    self.inputs = inputs
    self.shape = shape
    self.backward = backward
  }
}

/// Whether operations record the graph. Scoped per task/thread (a task-local value), so a
/// `withoutGradients` block in one thread does not affect another.
public enum GradientMode {
  @TaskLocal public static var isRecording = true
}

/// Runs `body` without recording the computation graph (evaluation, optimiser updates,
/// running statistics): no operation inside keeps activations for a backward pass.
public func withoutGradients<Result>(_ body: () throws -> Result) rethrows -> Result {
  try GradientMode.$isRecording.withValue(false) { try body() }
}

extension Tensor {
  /// Attaches a graph node to `result` if recording is on and any input requires a gradient.
  /// `backward` receives the output gradient and which inputs need one.
  static func recorded(
    _ result: Tensor, name: String, inputs: [Tensor],
    backward: @escaping (Tensor, [Bool]) -> [Tensor?]
  ) -> Tensor {
    guard recordsGradient(of: inputs) else { return result }
    let node = GradientNode(
      name: name, inputs: inputs.map { $0.node }, shape: result.shape, backward: backward)
    return result.withNode(node)
  }

  /// Whether an operation on `inputs` is recorded (`recorded` attaches a node to its result):
  /// recording is on and an input requires a gradient.
  static func recordsGradient(of inputs: [Tensor]) -> Bool {
    GradientMode.isRecording && inputs.contains(where: { $0.requiresGradient })
  }
}
