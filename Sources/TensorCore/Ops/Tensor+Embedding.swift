extension Tensor {
  /// Rows `indices` of a `[rows, width]` table: `out[i, :] = self[indices[i], :]`, shape
  /// `[indices.count, width]` (an embedding lookup, SPEC-RNN §3). The gradient adds each output
  /// row back into the row it came from (rows that repeat accumulate, in index order).
  /// Every index must be in `0..<rows`.
  public func gatheringRows(_ indices: [Int]) -> Tensor {
    precondition(rank == 2, "gatheringRows needs a [rows, width] table, got \(shape)")
    let (rows, width) = (shape[0], shape[1])
    precondition(indices.allSatisfy { 0 <= $0 && $0 < rows }, "a row index is outside 0..<\(rows)")
    let out = Tensor.uninitialized([indices.count, width], on: backend)
    backend.gatherRows(table: storage, rowLength: width, indices: indices, out: out.storage)
    let tableShape = shape
    return Tensor.recorded(out, name: "gatherRows", inputs: [self]) { g, _ in
      let dTable = Tensor.zeros(tableShape, on: g.backend)
      g.backend.scatterAddRows(g.storage, rowLength: width, indices: indices, into: dTable.storage)
      return [dTable]
    }
  }
}
