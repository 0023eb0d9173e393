/// The row loops shared by the weighted-sum kernels (`Elementwise.weightedSum`,
/// `StridedLoops.weightedSum` and its backward pass): every product is a fused multiply-add,
/// accumulated in input order, so an element's value does not depend on where a row or a
/// thread's chunk starts.

/// `out[i] = Σ_k weights[k]·source(k)[i]` for `i` in `0..<length`, reading all `count`
/// sources in one pass (four vectors of each at a time) and writing `out` once.
@inline(__always)
func weightedRowSum(
  count: Int, weights: [Float], source: (Int) -> UnsafePointer<Float>,
  into out: UnsafeMutablePointer<Float>, length: Int
) {
  var i = 0
  while i + 64 <= length {
    var (a0, a1, a2, a3) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
    for k in 0..<count {
      let p = source(k) + i
      let w = SIMD16<Float>(repeating: weights[k])
      a0 = a0.addingProduct(w, p.loadVector(at: 0))
      a1 = a1.addingProduct(w, p.loadVector(at: 16))
      a2 = a2.addingProduct(w, p.loadVector(at: 32))
      a3 = a3.addingProduct(w, p.loadVector(at: 48))
    }
    out.storeVector(a0, at: i)
    out.storeVector(a1, at: i + 16)
    out.storeVector(a2, at: i + 32)
    out.storeVector(a3, at: i + 48)
    i += 64
  }
  while i + 16 <= length {
    var a = SIMD16<Float>()
    for k in 0..<count { a = a.addingProduct(SIMD16(repeating: weights[k]), source(k).loadVector(at: i)) }
    out.storeVector(a, at: i)
    i += 16
  }
  while i < length {
    var a: Float = 0
    for k in 0..<count { a = a.addingProduct(weights[k], source(k)[i]) }
    out[i] = a
    i += 1
  }
}

/// One input's share of a weighted sum's backward pass over a row of `length` elements:
/// `gradInput[i] = weight·g[i]` (when `gradInput` is given) and the return value
/// `Σ_i g[i]·x[i]` (when `dot`; Float within blocks of 4096 elements, blocks added in Double).
@inline(__always)
func weightedRowBackward(
  g: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: Float,
  gradInput: UnsafeMutablePointer<Float>?, dot: Bool, length: Int
) -> Double {
  let wv = SIMD16<Float>(repeating: weight)
  var total = 0.0
  var i = 0
  while i < length {
    let blockEnd = Swift.min(length, i + 4096)
    var acc = SIMD16<Float>()
    var tail: Float = 0
    while i + 16 <= blockEnd {
      let gv = g.loadVector(at: i)
      if let gradInput { gradInput.storeVector(gv * wv, at: i) }
      if dot { acc = acc.addingProduct(gv, x.loadVector(at: i)) }
      i += 16
    }
    while i < blockEnd {
      if let gradInput { gradInput[i] = g[i] * weight }
      if dot { tail = tail.addingProduct(g[i], x[i]) }
      i += 1
    }
    total += Double(acc.sum()) + Double(tail)
  }
  return total
}

extension Elementwise {
  /// `out[i] = Σ_k weights[k]·inputs[k][i]`, in one pass over the inputs and one write.
  public static func weightedSum(
    _ inputs: [UnsafePointer<Float>], weights: [Float], _ out: UnsafeMutablePointer<Float>,
    count: Int, pool: WorkerPool
  ) {
    precondition(inputs.count == weights.count && !inputs.isEmpty, "weighted sum needs one weight per input")
    let sources = inputs.map { UnsafeSendable($0) }
    let os = UnsafeSendable(UnsafePointer(out))
    pool.parallelChunks(count, grain: grain) { range in
      let start = range.lowerBound
      weightedRowSum(
        count: sources.count, weights: weights, source: { sources[$0].pointer + start },
        into: UnsafeMutablePointer(mutating: os.pointer) + start, length: range.count)
    }
  }
}

extension StridedLoops {
  /// `destination = Σ_k weights[k]·sources[k]` over `shape`, where each source and the
  /// destination have their own element strides (innermost stride 1): a weighted sum that
  /// gathers and scatters on the way, such as a PC-DARTS node written straight into its
  /// channel-shuffled positions. Axis 0 is split across threads.
  public static func weightedSum(
    shape: [Int], sources: [UnsafePointer<Float>], sourceStrides: [[Int]], weights: [Float],
    destination: UnsafeMutablePointer<Float>, destinationStrides: [Int], pool: WorkerPool
  ) {
    precondition(!sources.isEmpty && sources.count == weights.count && sourceStrides.count == sources.count,
      "strided weighted sum needs one weight and one stride list per source")
    let strides = sourceStrides + [destinationStrides]
    precondition(strides.allSatisfy { $0.count == shape.count && ($0.last ?? 1) == 1 },
      "strided weighted sum needs \(shape.count) strides per operand, innermost 1")
    let k = sources.count
    let srcs = sources.map { UnsafeSendable($0) }
    let dst = UnsafeSendable(UnsafePointer(destination))
    forEachRow(shape: shape, strides: strides, parallelAxisWrites: true, pool: pool) { offsets, length in
      weightedRowSum(
        count: k, weights: weights, source: { srcs[$0].pointer + offsets[$0] },
        into: UnsafeMutablePointer(mutating: dst.pointer) + offsets[k], length: length)
    }
  }

  /// The backward pass of the strided `weightedSum` for the upstream gradient `gradient`:
  /// `gradInputs[k] = weights[k]·gradient` laid out with `sourceStrides[k]` (where given) and,
  /// when `needWeightGradient`, the weight gradients `Σ gradient·sources[k]`. Those are summed
  /// per index of axis 0 in Double and then in axis order, so they do not depend on the
  /// thread count.
  public static func weightedSumBackward(
    shape: [Int], gradient: UnsafePointer<Float>, gradientStrides: [Int],
    sources: [UnsafePointer<Float>], sourceStrides: [[Int]], weights: [Float],
    gradInputs: [UnsafeMutablePointer<Float>?], needWeightGradient: Bool, pool: WorkerPool
  ) -> [Double] {
    let k = sources.count
    precondition(weights.count == k && sourceStrides.count == k && gradInputs.count == k,
      "one weight, stride list and gradient slot per source")
    let strides = [gradientStrides] + sourceStrides
    precondition(!shape.isEmpty && strides.allSatisfy { $0.count == shape.count && $0.last == 1 },
      "strided weighted sum backward needs \(shape.count) strides per operand, innermost 1")
    let outer = shape[0]
    var partials = [Double](repeating: 0, count: outer * k)
    let g = UnsafeSendable(gradient)
    let srcs = sources.map { UnsafeSendable($0) }
    let slots = gradInputs.map { $0.map { UnsafeSendable(UnsafePointer($0)) } }
    let innerShape = Array(shape.dropFirst())
    let innerStrides = strides.map { Array($0.dropFirst()) }
    partials.withUnsafeMutableBufferPointer { buffer in
      let ps = UnsafeSendable(UnsafePointer(buffer.baseAddress!))
      pool.parallelFor(outer) { n in
        let partial = UnsafeMutablePointer(mutating: ps.pointer) + n * k
        let bases = strides.map { n * $0[0] }
        forEachRow(shape: innerShape, strides: innerStrides, parallelAxisWrites: false, pool: pool) { offsets, length in
          let gRow = g.pointer + bases[0] + offsets[0]
          for j in 0..<k {
            let at = bases[j + 1] + offsets[j + 1]
            partial[j] += weightedRowBackward(
              g: gRow, x: srcs[j].pointer + at, weight: weights[j],
              gradInput: slots[j].map { UnsafeMutablePointer(mutating: $0.pointer) + at },
              dot: needWeightGradient, length: length)
          }
        }
      }
    }
    return (0..<k).map { j in (0..<outer).reduce(0.0) { $0 + partials[$1 * k + j] } }
  }
}
