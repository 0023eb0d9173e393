/// Plain index loops over a multi-dimensional index space where each operand has its own
/// element strides (stride 0 = broadcast): the definition the fast `StridedLoops` kernels are
/// tested against. One thread; every element visited once, in row-major order of `shape`
/// (outermost axis first), by an odometer over the multi-index; no merging of axes, no SIMD.
/// Shapes and strides are in elements; a shape of rank 0 is one element, a shape with a 0 extent
/// none.
public enum ReferenceStridedLoops {
  /// `destination[i] = source[i]` (or `+=` when `accumulate`) for every multi-index `i` of
  /// `shape`, each operand at `Σ_axis i[axis]·strides[axis]`. With `accumulate`, destination
  /// strides of 0 sum over those axes (a reduction): the source elements are added to the
  /// destination one at a time, in Float, in row-major order (the fast kernel first sums an
  /// innermost row of stride 0 in Float and then adds it, so reductions agree to rounding only).
  public static func copy(
    shape: [Int], source: UnsafePointer<Float>, sourceStrides: [Int],
    destination: UnsafeMutablePointer<Float>, destinationStrides: [Int], accumulate: Bool
  ) {
    forEachIndex(shape, [sourceStrides, destinationStrides]) { offsets in
      if accumulate {
        destination[offsets[1]] += source[offsets[0]]
      } else {
        destination[offsets[1]] = source[offsets[0]]
      }
    }
  }

  /// `out[i] = a[i] ∘ b[i]` for every multi-index `i` of `shape`, with `out` contiguous
  /// (row-major) and `a`, `b` read through their strides (0 broadcasts).
  public static func binary(
    _ operation: StridedLoops.BinaryOperation, shape: [Int], a: UnsafePointer<Float>, aStrides: [Int],
    b: UnsafePointer<Float>, bStrides: [Int], out: UnsafeMutablePointer<Float>
  ) {
    let apply: (Float, Float) -> Float
    switch operation {
    case .add: apply = (+)
    case .subtract: apply = (-)
    case .multiply: apply = (*)
    case .divide: apply = (/)
    }
    forEachIndex(shape, [aStrides, bStrides, StridedLoops.contiguousStrides(shape)]) { offsets in
      out[offsets[2]] = apply(a[offsets[0]], b[offsets[1]])
    }
  }

  /// `destination[i] = Σ_k weights[k]·sources[k][i]` for every multi-index `i` of `shape`,
  /// each source and the destination through their own strides, summed in source order from 0
  /// with one fused multiply-add per source (the fast kernel does the same, so the two agree
  /// bit for bit). Any rank; the fast kernel takes a 4-axis `[outer, a, b, row]` shape with
  /// innermost strides 1.
  public static func weightedSum(
    shape: [Int], sources: [UnsafePointer<Float>], sourceStrides: [[Int]], weights: [Float],
    destination: UnsafeMutablePointer<Float>, destinationStrides: [Int]
  ) {
    let k = sources.count
    precondition(k > 0 && weights.count == k && sourceStrides.count == k,
      "strided weighted sum needs one weight and one stride list per source")
    forEachIndex(shape, sourceStrides + [destinationStrides]) { offsets in
      var total: Float = 0
      for j in 0..<k { total = total.addingProduct(weights[j], sources[j][offsets[j]]) }
      destination[offsets[k]] = total
    }
  }

  /// The backward pass of `weightedSum` for the upstream gradient `gradient`: for every source
  /// `k` with a non-nil `gradInputs[k]`, `gradInputs[k][i] = gradient[i]·weights[k]` laid out
  /// with `gradInputStrides[k]` (overwritten); returns, per source, the weight gradient
  /// `Σ_i gradient[i]·sources[k][i]` when `needWeightGradient` (each product exact in Double,
  /// added in row-major order to a Double total), else zeros. The fast kernel's weight gradients
  /// sum Float products in Float runs of about 4096 elements, so they agree to rounding only.
  public static func weightedSumBackward(
    shape: [Int], gradient: UnsafePointer<Float>, gradientStrides: [Int],
    sources: [UnsafePointer<Float>], sourceStrides: [[Int]], weights: [Float],
    gradInputs: [UnsafeMutablePointer<Float>?], gradInputStrides: [[Int]], needWeightGradient: Bool
  ) -> [Double] {
    let k = sources.count
    precondition(weights.count == k && sourceStrides.count == k && gradInputs.count == k && gradInputStrides.count == k,
      "one weight, stride list and gradient slot per source")
    var dots = [Double](repeating: 0, count: k)
    for j in 0..<k {
      let slot = gradInputs[j]
      forEachIndex(shape, [gradientStrides, sourceStrides[j], gradInputStrides[j]]) { offsets in
        let g = gradient[offsets[0]]
        slot?[offsets[2]] = g * weights[j]
        if needWeightGradient { dots[j] += Double(g) * Double(sources[j][offsets[1]]) }
      }
    }
    return dots
  }

  /// Calls `body(offsets)` for every multi-index `i` of `shape` in row-major order, with
  /// `offsets[k] = Σ_axis i[axis]·strides[k][axis]`.
  private static func forEachIndex(_ shape: [Int], _ strides: [[Int]], _ body: ([Int]) -> Void) {
    precondition(strides.allSatisfy { $0.count == shape.count }, "one stride per axis of \(shape)")
    let count = shape.reduce(1, *)
    var index = [Int](repeating: 0, count: shape.count)
    var offsets = [Int](repeating: 0, count: strides.count)
    for _ in 0..<count {
      for k in strides.indices {
        offsets[k] = 0
        for axis in shape.indices { offsets[k] += index[axis] * strides[k][axis] }
      }
      body(offsets)
      // Advance the odometer: the last axis fastest, carrying into the axes before it.
      var axis = shape.count - 1
      while axis >= 0 {
        index[axis] += 1
        if index[axis] < shape[axis] { break }
        index[axis] = 0
        axis -= 1
      }
    }
  }
}
