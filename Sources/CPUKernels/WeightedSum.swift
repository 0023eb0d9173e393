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
/// `gradInput[i] = weight·g[i]` (when `gradInput` is given) and, when `dot`, `g[i]·x[i]`
/// added into the vector accumulator `acc` (lane-wise) and `tail` (the elements after the last
/// whole vector). The caller folds `acc` into a Double total every few thousand elements.
@inline(__always)
func weightedRowBackward(
  g: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: Float,
  gradInput: UnsafeMutablePointer<Float>?, dot: Bool, length: Int,
  acc: inout SIMD16<Float>, tail: inout Float
) {
  let wv = SIMD16<Float>(repeating: weight)
  var i = 0
  while i + 16 <= length {
    let gv = g.loadVector(at: i)
    if let gradInput { gradInput.storeVector(gv * wv, at: i) }
    if dot { acc = acc.addingProduct(gv, x.loadVector(at: i)) }
    i += 16
  }
  while i < length {
    if let gradInput { gradInput[i] = g[i] * weight }
    if dot { tail = tail.addingProduct(g[i], x[i]) }
    i += 1
  }
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
  /// `destination = Σ_k weights[k]·sources[k]` over a 4-axis `shape` `[outer, a, b, row]`,
  /// where each source and the destination have their own element strides (innermost stride
  /// 1): a weighted sum that gathers and scatters on the way, such as a PC-DARTS node written
  /// straight into its channel-shuffled positions. Indices of axis 0 run as parallel tasks.
  public static func weightedSum(
    shape: [Int], sources: [UnsafePointer<Float>], sourceStrides: [[Int]], weights: [Float],
    destination: UnsafeMutablePointer<Float>, destinationStrides: [Int], pool: WorkerPool
  ) {
    let k = sources.count
    precondition(k > 0 && weights.count == k && sourceStrides.count == k,
      "strided weighted sum needs one weight and one stride list per source")
    checkRows(shape, sourceStrides + [destinationStrides])
    let srcs = sources.map { UnsafeSendable($0) }
    let dst = UnsafeSendable(UnsafePointer(destination))
    pool.parallelFor(shape[0]) { n in
      withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: k) { rows in
        for a in 0..<shape[1] {
          for b in 0..<shape[2] {
            for j in 0..<k { rows[j] = srcs[j].pointer + rowOffset(sourceStrides[j], n, a, b) }
            weightedRowSum(
              count: k, weights: weights, source: { rows[$0] },
              into: UnsafeMutablePointer(mutating: dst.pointer) + rowOffset(destinationStrides, n, a, b),
              length: shape[3])
          }
        }
      }
    }
  }

  /// The backward pass of the strided `weightedSum` for the upstream gradient `gradient`:
  /// `gradInputs[k] = weights[k]·gradient` laid out with `gradInputStrides[k]` (where given) and,
  /// when `needWeightGradient`, the weight gradients `Σ gradient·sources[k]`. Those are summed
  /// per index of axis 0 (Float within runs of about 4096 elements, then Double) and then in
  /// axis order, so they do not depend on the thread count.
  public static func weightedSumBackward(
    shape: [Int], gradient: UnsafePointer<Float>, gradientStrides: [Int],
    sources: [UnsafePointer<Float>], sourceStrides: [[Int]], weights: [Float],
    gradInputs: [UnsafeMutablePointer<Float>?], gradInputStrides: [[Int]], needWeightGradient: Bool,
    pool: WorkerPool
  ) -> [Double] {
    let k = sources.count
    precondition(weights.count == k && sourceStrides.count == k && gradInputs.count == k && gradInputStrides.count == k,
      "one weight, stride list and gradient slot per source")
    checkRows(shape, [gradientStrides] + sourceStrides + gradInputStrides)
    let outer = shape[0]
    var partials = [Double](repeating: 0, count: outer * k)
    let g = UnsafeSendable(gradient)
    let srcs = sources.map { UnsafeSendable($0) }
    let slots = gradInputs.map { $0.map { UnsafeSendable(UnsafePointer($0)) } }
    partials.withUnsafeMutableBufferPointer { buffer in
      let ps = UnsafeSendable(UnsafePointer(buffer.baseAddress!))
      pool.parallelFor(outer) { n in
        let partial = UnsafeMutablePointer(mutating: ps.pointer) + n * k
        for j in 0..<k {
          let slot = slots[j].map { UnsafeMutablePointer(mutating: $0.pointer) }
          var total = 0.0
          var (acc, tail, pending) = (SIMD16<Float>(), Float(0), 0)
          for a in 0..<shape[1] {
            for b in 0..<shape[2] {
              weightedRowBackward(
                g: g.pointer + rowOffset(gradientStrides, n, a, b), x: srcs[j].pointer + rowOffset(sourceStrides[j], n, a, b),
                weight: weights[j], gradInput: slot.map { $0 + rowOffset(gradInputStrides[j], n, a, b) },
                dot: needWeightGradient, length: shape[3], acc: &acc, tail: &tail)
              pending += shape[3]
              if pending >= 4096 {
                total += Double(acc.sum()) + Double(tail)
                (acc, tail, pending) = (SIMD16<Float>(), 0, 0)
              }
            }
          }
          partial[j] = total + Double(acc.sum()) + Double(tail)
        }
      }
    }
    return (0..<k).map { j in (0..<outer).reduce(0.0) { $0 + partials[$1 * k + j] } }
  }

  @inline(__always)
  private static func rowOffset(_ strides: [Int], _ n: Int, _ a: Int, _ b: Int) -> Int {
    n * strides[0] + a * strides[1] + b * strides[2]
  }

  private static func checkRows(_ shape: [Int], _ strides: [[Int]]) {
    precondition(shape.count == 4 && strides.allSatisfy { $0.count == 4 && $0[3] == 1 },
      "strided weighted sums take a [outer, a, b, row] shape and four strides per operand, innermost 1")
  }
}
