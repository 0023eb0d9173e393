/// Loops over a multi-dimensional index space where each operand has its own element strides
/// (stride 0 = broadcast). They implement broadcasting arithmetic, slicing, concatenation,
/// permutation (channel shuffle) and reductions over axes without per-case kernels.
///
/// Shapes and strides are in elements, outermost axis first; the innermost axis is the
/// vectorised one. The outermost axis is split across threads whenever the destination
/// stride of that axis is non-zero (so threads never write the same element).
public enum StridedLoops {
  /// The binary operations of `binary`.
  public enum BinaryOperation: Sendable {
    case add, subtract, multiply, divide
  }

  /// `destination[i] (=|+=) source[i]` over `shape`; with `accumulate`, destination strides of
  /// 0 sum over those axes (a reduction).
  public static func copy(
    shape: [Int], source: UnsafePointer<Float>, sourceStrides: [Int],
    destination: UnsafeMutablePointer<Float>, destinationStrides: [Int], accumulate: Bool,
    pool: WorkerPool
  ) {
    let src = UnsafeSendable(source)
    let dst = UnsafeSendable(UnsafePointer(destination))
    forEachRow(shape: shape, strides: [sourceStrides, destinationStrides],
      parallelAxisWrites: destinationStrides.first.map { $0 != 0 } ?? false, pool: pool
    ) { offsets, length in
      let s = src.pointer + offsets[0]
      let d = UnsafeMutablePointer(mutating: dst.pointer) + offsets[1]
      let (ss, ds) = (sourceStrides.last ?? 1, destinationStrides.last ?? 1)
      if accumulate {
        if ds == 0 {
          var total: Float = 0
          for i in 0..<length { total += s[i * ss] }
          d.pointee += total
        } else if ss == 1 && ds == 1 {
          forEachVector(length, { d.storeVector(d.loadVector(at: $0) + s.loadVector(at: $0), at: $0) },
            scalar: { d[$0] += s[$0] })
        } else {
          for i in 0..<length { d[i * ds] += s[i * ss] }
        }
      } else if ss == 1 && ds == 1 {
        d.update(from: s, count: length)
      } else {
        for i in 0..<length { d[i * ds] = s[i * ss] }
      }
    }
  }

  /// `out[i] = a[i] ∘ b[i]` over `shape` with `out` contiguous; `a`/`b` strides of 0
  /// broadcast.
  public static func binary(
    _ operation: BinaryOperation, shape: [Int], a: UnsafePointer<Float>, aStrides: [Int],
    b: UnsafePointer<Float>, bStrides: [Int], out: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    switch operation {
    case .add: binary(shape, a, aStrides, b, bStrides, out, pool, { $0 + $1 }, { $0 + $1 })
    case .subtract: binary(shape, a, aStrides, b, bStrides, out, pool, { $0 - $1 }, { $0 - $1 })
    case .multiply: binary(shape, a, aStrides, b, bStrides, out, pool, { $0 * $1 }, { $0 * $1 })
    case .divide: binary(shape, a, aStrides, b, bStrides, out, pool, { $0 / $1 }, { $0 / $1 })
    }
  }

  @inline(__always)
  private static func binary(
    _ shape: [Int], _ a: UnsafePointer<Float>, _ aStrides: [Int], _ b: UnsafePointer<Float>,
    _ bStrides: [Int], _ out: UnsafeMutablePointer<Float>, _ pool: WorkerPool,
    _ vector: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, _ scalar: (Float, Float) -> Float
  ) {
    let outStrides = contiguousStrides(shape)
    let (aS, bS, oS) = (UnsafeSendable(a), UnsafeSendable(b), UnsafeSendable(UnsafePointer(out)))
    forEachRow(shape: shape, strides: [aStrides, bStrides, outStrides], parallelAxisWrites: true, mergingBroadcasts: true,
      pool: pool
    ) { offsets, length in
      let a = aS.pointer + offsets[0]
      let b = bS.pointer + offsets[1]
      let o = UnsafeMutablePointer(mutating: oS.pointer) + offsets[2]
      let (sa, sb) = (aStrides.last ?? 1, bStrides.last ?? 1)
      if sa == 1 && sb == 1 {
        forEachVector(length, { o.storeVector(vector(a.loadVector(at: $0), b.loadVector(at: $0)), at: $0) },
          scalar: { o[$0] = scalar(a[$0], b[$0]) })
      } else if sa == 1 && sb == 0 {
        let bv = b.pointee
        let bVector = SIMD16<Float>(repeating: bv)
        forEachVector(length, { o.storeVector(vector(a.loadVector(at: $0), bVector), at: $0) },
          scalar: { o[$0] = scalar(a[$0], bv) })
      } else if sa == 0 && sb == 1 {
        let av = a.pointee
        let aVector = SIMD16<Float>(repeating: av)
        forEachVector(length, { o.storeVector(vector(aVector, b.loadVector(at: $0)), at: $0) },
          scalar: { o[$0] = scalar(av, b[$0]) })
      } else {
        for i in 0..<length { o[i] = scalar(a[i * sa], b[i * sb]) }
      }
    }
  }

  /// Row-major strides of a contiguous tensor of `shape`.
  public static func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
      strides[axis] = running
      running *= shape[axis]
    }
    return strides
  }

  /// `shape` and `strides` with adjacent axes merged wherever every operand walks them as one
  /// contiguous run (`strides[k][i] == strides[k][i+1]·shape[i+1]`, all non-zero), so a channel
  /// slice or a channel shuffle of NCHW loops over whole planes or channel blocks instead of
  /// rows of W. Axis 0 (the threaded one) is never merged, nor are axes of stride 0 (broadcast
  /// and reduced axes, whose summation order must not change) unless `mergingBroadcasts`: an
  /// element-wise operation without accumulation may merge an operand's run of stride-0 axes
  /// into one (a per-sample scalar `[N, 1, 1, 1]` over `[N, C, H, W]` becomes one scalar per
  /// row of `C·H·W`). The element order is unchanged and so is every operand's innermost
  /// stride.
  public static func coalescedAxes(_ shape: [Int], _ strides: [[Int]], mergingBroadcasts: Bool = false) -> (shape: [Int], strides: [[Int]]) {
    guard shape.count > 2 else { return (shape, strides) }
    var mergedShape = [shape[shape.count - 1]]
    var mergedStrides = strides.map { [$0[shape.count - 1]] }
    for axis in stride(from: shape.count - 2, through: 0, by: -1) {
      let inner = mergedShape.count - 1
      let mergeable = axis > 0 && strides.indices.allSatisfy { k in
        (mergingBroadcasts || mergedStrides[k][inner] != 0) && strides[k][axis] == mergedStrides[k][inner] * mergedShape[inner]
      }
      if mergeable {
        mergedShape[inner] *= shape[axis]
      } else {
        mergedShape.append(shape[axis])
        for k in strides.indices { mergedStrides[k].append(strides[k][axis]) }
      }
    }
    return (mergedShape.reversed(), mergedStrides.map { $0.reversed() })
  }

  /// Calls `body(offsets, innerLength)` for every innermost row of `shape`, with `offsets[k]`
  /// the element offset of operand `k` (strides `strides[k]`) at the row's start. Rows of
  /// different outermost indices run on different threads when `parallelAxisWrites`.
  @inline(__always)
  static func forEachRow(
    shape fullShape: [Int], strides fullStrides: [[Int]], parallelAxisWrites: Bool, mergingBroadcasts: Bool = false,
    pool: WorkerPool, _ body: ([Int], Int) -> Void
  ) {
    let (shape, strides) = coalescedAxes(fullShape, fullStrides, mergingBroadcasts: mergingBroadcasts)
    let rank = shape.count
    if rank == 0 {
      body([Int](repeating: 0, count: strides.count), 1)
      return
    }
    if shape.contains(0) { return }
    let inner = shape[rank - 1]
    let outerShape = Array(shape.dropLast())
    let rows = outerShape.reduce(1, *)
    func runRows(_ range: Range<Int>) {
      var offsets = [Int](repeating: 0, count: strides.count)
      for row in range {
        var remainder = row
        for k in 0..<strides.count { offsets[k] = 0 }
        for axis in stride(from: rank - 2, through: 0, by: -1) {
          let index = remainder % outerShape[axis]
          remainder /= outerShape[axis]
          for k in 0..<strides.count { offsets[k] += index * strides[k][axis] }
        }
        body(offsets, inner)
      }
    }
    if parallelAxisWrites && rank >= 2 && shape[0] > 1 {
      let rowsPerOuter = rows / shape[0]
      pool.parallelChunks(shape[0], grain: max(1, Elementwise.grain / max(1, rowsPerOuter * inner))) {
        outer in runRows((outer.lowerBound * rowsPerOuter)..<(outer.upperBound * rowsPerOuter))
      }
    } else {
      runRows(0..<rows)
    }
  }
}
