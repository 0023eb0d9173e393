import TensorCore

/// SDARTS' projection of perturbed probability rows back onto the simplex (`Network.clip` of
/// `xiangning-chen/SmoothDARTS`, SPEC-ROBUST §2): remember the row's argmax (before clamping),
/// clamp every entry to [0, 1], set the argmax entry to 1 if the row then sums to exactly 0,
/// and divide the row by its sum. It is not the Euclidean projection: a row inside [0, 1]^K
/// is only rescaled.
///
/// Example: `[0.5, 0.3, 0.2] + [0.1, 0.2, −0.1] = [0.6, 0.5, 0.1]` → `[0.5, 0.41667, 0.08333]`;
/// `[0.5, 0.3, 0.2] + [0.25, −0.35, 0.05] = [0.75, −0.05, 0.25]` → `[0.75, 0, 0.25]`.
public enum SimplexProjection {
  /// The projection of one row (K ≥ 1 entries).
  public static func project(_ row: [Float]) -> [Float] {
    precondition(!row.isEmpty, "the simplex projection needs a non-empty row")
    let argmax = row.indices.max { row[$0] < row[$1] }!  // the first of equal maxima
    var clamped = row.map { min(max($0, 0), 1) }
    if clamped.reduce(0, +) == 0 { clamped[argmax] = 1 }
    let sum = clamped.reduce(0, +)
    return clamped.map { $0 / sum }
  }

  /// The projection of every row of `[rows, K]` probabilities (no gradient).
  public static func project(rows: Tensor) -> Tensor {
    precondition(rows.rank == 2, "the simplex projection needs [rows, K], got \(rows.shape)")
    let k = rows.shape[1]
    let values = rows.scalars
    let projected = stride(from: 0, to: values.count, by: k).flatMap { project(Array(values[$0..<($0 + k)])) }
    return Tensor(shape: rows.shape, scalars: projected, on: rows.backend)
  }
}
