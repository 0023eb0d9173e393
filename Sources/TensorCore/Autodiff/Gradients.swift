/// Reverse-mode gradients of `output` with respect to each tensor of `tensors`, returned as
/// values (nothing is stored on the tensors).
///
/// Only the part of the graph between `output` and `tensors` is walked, and gradients of
/// inputs that lead to none of `tensors` are never computed: asking for the architecture
/// gradients skips every convolution weight-gradient kernel, and vice versa. Gradients that
/// reach a tensor along several paths are summed; broadcasting is reduced back to each
/// operand's shape. A tensor the output does not depend on gets zeros.
///
/// - Parameters:
///   - output: the value to differentiate; a scalar unless `seed` is given.
///   - tensors: the tensors to differentiate with respect to (leaves or intermediates).
///   - seed: the gradient of some downstream scalar with respect to `output`
///     (a vector–Jacobian product); ones if nil.
///   - retainGraph: keep the recorded operations (and their saved activations) so the same
///     graph can be differentiated again; by default each operation's saved tensors are
///     released as soon as its backward rule has run.
public func gradients(
  of output: Tensor, wrt tensors: [Tensor], seed: Tensor? = nil, retainGraph: Bool = false
) -> [Tensor] {
  withoutGradients {
    var result: [Tensor?] = Array(repeating: nil, count: tensors.count)
    guard let root = output.node else {
      return tensors.map { Tensor.zeros($0.shape, on: $0.backend) }
    }
    precondition(seed != nil || output.count == 1, "gradients(of:) of a non-scalar needs a seed")
    let initial = seed ?? Tensor(repeating: 1, shape: output.shape, on: output.backend)
    precondition(initial.shape == output.shape, "seed shape \(initial.shape) != \(output.shape)")

    // Post-order (inputs before users) of the graph reachable from the output.
    var order: [GradientNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(GradientNode, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (node, next) = stack.popLast() {
      if next < node.inputs.count {
        stack.append((node, next + 1))
        if let input = node.inputs[next], visited.insert(ObjectIdentifier(input)).inserted {
          stack.append((input, 0))
        }
      } else {
        order.append(node)
      }
    }

    // Which nodes lie on a path to a requested tensor.
    var targets: [ObjectIdentifier: [Int]] = [:]
    for (i, t) in tensors.enumerated() {
      if let n = t.node { targets[ObjectIdentifier(n), default: []].append(i) }
    }
    var needed = Set<ObjectIdentifier>()
    for node in order {
      let id = ObjectIdentifier(node)
      if targets[id] != nil || node.inputs.contains(where: { $0.map { needed.contains(ObjectIdentifier($0)) } ?? false }) {
        needed.insert(id)
      }
    }

    // Contributions to each node's gradient are summed when the node is reached, in one
    // pass over all of them (a DARTS edge input receives seven).
    var pending: [ObjectIdentifier: [Tensor]] = [ObjectIdentifier(root): [initial]]
    for node in order.reversed() {
      let id = ObjectIdentifier(node)
      guard needed.contains(id), let contributions = pending.removeValue(forKey: id) else {
        if !retainGraph { node.backward = nil }
        continue
      }
      let upstream = Tensor.accumulatedGradient(contributions)
      for i in targets[id] ?? [] { result[i] = upstream }
      if let backward = node.backward {
        let mask = node.inputs.map { $0.map { needed.contains(ObjectIdentifier($0)) } ?? false }
        if mask.contains(true) {
          let inputGradients = backward(upstream, mask)
          for (k, input) in node.inputs.enumerated() where mask[k] {
            guard let input, let g = inputGradients[k] else { continue }
            precondition((g.embedding?.shape ?? g.shape) == input.shape, "\(node.name): gradient shape \(g.shape) != \(input.shape)")
            pending[ObjectIdentifier(input), default: []].append(g)
          }
        }
      }
      if !retainGraph { node.backward = nil }
    }
    return tensors.enumerated().map { i, t in
      result[i] ?? Tensor.zeros(t.shape, on: t.backend)
    }
  }
}
