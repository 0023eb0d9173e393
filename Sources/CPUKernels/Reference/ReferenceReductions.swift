/// Plain-loop reductions over contiguous float buffers: the definition the fast reductions
/// (`Elementwise.sum`, `Elementwise.dot`, `Elementwise.allFinite`) are tested against, and the
/// one implementation of the row maximum. One thread, one element per loop iteration.
public enum ReferenceReductions {
  /// `Σ x[i]` over `0..<count`, every element added in order to a `Double` total. The fast
  /// kernel adds in Float (16 lanes) within blocks of at most 4096 elements and combines the
  /// blocks in Double, so the two differ by that Float rounding: a few `1e-7·Σ |x[i]|`.
  public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0
    for i in 0..<count { total += Double(x[i]) }
    return total
  }

  /// `Σ a[i]·b[i]` over `0..<count`, each product formed exactly in `Double` and added in order
  /// to a `Double` total. The fast kernel rounds each product to Float and adds in Float within
  /// blocks of at most 4096 elements, so the two differ by a few `1e-7·Σ |a[i]·b[i]|`.
  public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0
    for i in 0..<count { total += Double(a[i]) * Double(b[i]) }
    return total
  }

  /// Whether every `x[i]` in `0..<count` is finite (neither NaN nor ±∞); true when `count` is 0.
  public static func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
    for i in 0..<count where !x[i].isFinite { return false }
    return true
  }

  /// The maximum of each row of a row-major `rows × length` matrix:
  /// `output[r] = max_i x[r·length + i]`, `−∞` when `length` is 0. Elements are compared with
  /// `Swift.max(best, x)` from `best = −∞`, so NaN elements are passed over (a row of NaNs
  /// gives `−∞`).
  public static func rowMaximum(
    _ x: UnsafePointer<Float>, rows: Int, length: Int, output: UnsafeMutablePointer<Float>
  ) {
    for r in 0..<rows {
      var best = -Float.infinity
      for i in 0..<length { best = Swift.max(best, x[r * length + i]) }
      output[r] = best
    }
  }
}
