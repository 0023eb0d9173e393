import TensorCore

/// The `[edges, ops]` mixing weights of the normal and the reduction cells: `softmax(α)` row
/// by row (``SearchNetwork/operationWeights``), or SDARTS' perturbed probabilities in its
/// weight step (SPEC-ROBUST §2).
public struct OperationWeights {
  public var normal: Tensor
  public var reduce: Tensor

  public init(normal: Tensor, reduce: Tensor) {
    self.normal = normal
    self.reduce = reduce
  }

  /// Both tensors, normal first.
  public var tensors: [Tensor] { [normal, reduce] }

  /// The weights with `transform` applied to each tensor.
  public func map(_ transform: (Tensor) throws -> Tensor) rethrows -> OperationWeights {
    OperationWeights(normal: try transform(normal), reduce: try transform(reduce))
  }
}
