/// Fast 2-D max and average pooling over planes (`planes = batch·channels`); semantics exactly
/// those of `ReferencePooling`, any `PoolGeometry`.
///
/// Each plane is copied into a padded scratch buffer whose columns are split by stride phase
/// (the layout `DepthwiseConvolution` uses), so every window tap is a contiguous vector load
/// along the output row. The backward passes add each output's gradient share into a buffer of
/// the same layout (vector read-modify-writes per tap) and copy it back out, so no index tensor
/// is stored: max pooling recomputes the argmax from the input. Planes are spread over the pool.
public enum Pooling {
  /// `output[p, y, x] = max` of the window's in-bounds inputs (padding never wins).
  ///
  /// - Parameters:
  ///   - input: `[planes, inHeight, inWidth]`.
  ///   - output: `[planes, outHeight, outWidth]`, overwritten.
  public static func maxForward(
    _ g: PoolGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    pool: WorkerPool
  ) {
    forward(g, padding: -.infinity, input: input, output: output, pool: pool, MaxReduction())
  }

  /// The gradient of `maxForward`: each output gradient goes to the first input, in row-major
  /// window order, that holds the window's maximum (as PyTorch's CPU kernel and the reference).
  ///
  /// - Parameters:
  ///   - input: the forward input, `[planes, inHeight, inWidth]`.
  ///   - gradOutput: `[planes, outHeight, outWidth]`.
  ///   - gradInput: `[planes, inHeight, inWidth]`, overwritten.
  public static func maxBackward(
    _ g: PoolGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    // NaN padding: a NaN maximum is replaced by the next value, so the first in-bounds input
    // always starts the search, exactly like the reference's `bestIndex < 0` rule.
    backward(
      g, input: input, gradOutput: gradOutput, gradInput: gradInput, pool: pool, FirstMaxRouting())
  }

  /// The window average. With `countIncludePad == false` the divisor is the number of
  /// in-bounds inputs (PyTorch `count_include_pad=False`), otherwise `kernelHeight·kernelWidth`.
  ///
  /// - Parameters:
  ///   - input: `[planes, inHeight, inWidth]`.
  ///   - output: `[planes, outHeight, outWidth]`, overwritten.
  public static func averageForward(
    _ g: PoolGeometry, countIncludePad: Bool, input: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    withAverageFactors(g, countIncludePad) { factors in
      forward(g, padding: 0, input: input, output: output, pool: pool, factors)
    }
  }

  /// The gradient of `averageForward`: every in-bounds input of a window receives the window's
  /// output gradient divided by its divisor.
  ///
  /// - Parameters:
  ///   - gradOutput: `[planes, outHeight, outWidth]`.
  ///   - gradInput: `[planes, inHeight, inWidth]`, overwritten.
  public static func averageBackward(
    _ g: PoolGeometry, countIncludePad: Bool, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    withAverageFactors(g, countIncludePad) { factors in
      backward(g, input: nil, gradOutput: gradOutput, gradInput: gradInput, pool: pool, factors)
    }
  }

  /// Runs a gathering forward pass: pads each plane with `padding` and folds its windows.
  private static func forward<R: WindowReduction>(
    _ g: PoolGeometry, padding: Float, input: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, pool: WorkerPool, _ reduction: R
  ) {
    let plan = WindowPlan.pooling(g)
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    plan.withTapOffsets { offsets in
      forEachWindowTask(g.planes, scratch: plan.layout.count, fill: padding, pool: pool) {
        plane, scratch in
        plan.layout.transfer(plane: UnsafeMutablePointer(mutating: input + plane * inPlane),
          buffer: scratch, intoBuffer: true)
        plan.gather(offsets, scratch, reduction, output + plane * outPlane)
      }
    }
  }

  /// Runs a scattering backward pass; `input` (padded with NaN) is needed by max pooling only.
  private static func backward<S: WindowScatter>(
    _ g: PoolGeometry, input: UnsafePointer<Float>?, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool, _ rule: S
  ) {
    let plan = WindowPlan.pooling(g)
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    let count = plan.layout.count
    let shareCount = plan.shareCount
    // Scratch: gradient buffer, shares, tags, then the input's window buffer (max pooling).
    let scratch = 2 * count + 2 * shareCount
    plan.withTapOffsets { offsets in
      forEachWindowTask(g.planes, scratch: scratch, fill: .nan, pool: pool) { plane, scratch in
        let (gradBuffer, shares) = (scratch, scratch + count)
        let (tags, window) = (shares + shareCount, shares + 2 * shareCount)
        if let input {
          plan.layout.transfer(plane: UnsafeMutablePointer(mutating: input + plane * inPlane),
            buffer: window, intoBuffer: true)
        }
        gradBuffer.update(repeating: 0, count: count)
        plan.scatter(
          offsets, gradOutput + plane * outPlane, window, rule, shares: shares, tags: tags,
          into: gradBuffer)
        plan.layout.transfer(plane: gradInput + plane * inPlane, buffer: gradBuffer, intoBuffer: false)
      }
    }
  }

  /// Calls `body` with the averaging factors `1/divisor` of `g` (a small stack table).
  private static func withAverageFactors<T>(
    _ g: PoolGeometry, _ countIncludePad: Bool, _ body: (AverageFactors) -> T
  ) -> T {
    // Room for a whole vector read at any block start.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: roundUpToMultiple(g.outWidth, 16)) { table in
      for x in 0..<table.count {
        table[x] = 1 / Float(
          countIncludePad
            ? g.kernelWidth : inBounds(x, g.strideWidth, g.padWidth, g.kernelWidth, g.inWidth))
      }
      return body(AverageFactors(geometry: g, countIncludePad: countIncludePad,
        columns: UnsafePointer(table.baseAddress!)))
    }
  }
}

/// The number of window positions `i·stride − pad + k` (`k < kernel`) inside `0..<size`
/// (at least 1, so the factor table stays finite past the last output).
@inline(__always)
private func inBounds(_ i: Int, _ stride: Int, _ pad: Int, _ kernel: Int, _ size: Int) -> Int {
  let start = i * stride - pad
  return max(1, min(start + kernel, size) - max(start, 0))
}

/// Lane-wise maximum (the first of equal values is kept; NaN is never chosen over a number).
struct MaxReduction: WindowReduction {
  @inline(__always) func start<V: LaneVector>() -> V { V(repeating: -.infinity) }
  @inline(__always)
  func combine<V: LaneVector>(_ accumulator: V, _ value: V, tap: Int) -> V {
    V.maximum(accumulator, value)
  }
  @inline(__always) func finish<V: LaneVector>(_ accumulator: V, y: Int, x: Int) -> V { accumulator }
}

/// The window sum times `1/divisor`: a per-row factor times a per-column factor (the divisor
/// counts in-bounds rows times in-bounds columns, or is the whole window).
struct AverageFactors: WindowReduction, WindowScatter {
  var geometry: PoolGeometry
  var countIncludePad: Bool
  var columns: UnsafePointer<Float>

  @inline(__always)
  func factor<V: LaneVector>(y: Int, x: Int) -> V {
    let g = geometry
    let rows = countIncludePad
      ? g.kernelHeight : inBounds(y, g.strideHeight, g.padHeight, g.kernelHeight, g.inHeight)
    return V.load(columns + x) * (1 / Float(rows))
  }

  @inline(__always) func start<V: LaneVector>() -> V { V() }
  @inline(__always)
  func combine<V: LaneVector>(_ accumulator: V, _ value: V, tap: Int) -> V { accumulator + value }
  @inline(__always)
  func finish<V: LaneVector>(_ accumulator: V, y: Int, x: Int) -> V {
    accumulator * factor(y: y, x: x)
  }

  @inline(__always)
  func share<V: LaneVector>(
    _ grad: V, y: Int, x: Int, window: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
    taps: Int
  ) -> (share: V, tag: V) {
    (grad * factor(y: y, x: x), V())
  }

  @inline(__always)
  func contribution<V: LaneVector>(_ share: V, tag: V, tap: Int) -> V { share }
}

/// Sends each output gradient to the first window maximum in row-major order.
struct FirstMaxRouting: WindowScatter {
  /// The gradient, tagged with the tap of the first maximum.
  @inline(__always)
  func share<V: LaneVector>(
    _ grad: V, y: Int, x: Int, window: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
    taps: Int
  ) -> (share: V, tag: V) {
    var best = V.load(window + offsets[0])
    var bestTap = V()  // tap numbers as floats (exact)
    for t in 1..<taps {
      V.takeGreater(V.load(window + offsets[t]), tag: Float(t), best: &best, tag: &bestTap)
    }
    return (grad, bestTap)
  }

  @inline(__always)
  func contribution<V: LaneVector>(_ share: V, tag: V, tap: Int) -> V {
    share.keeping(where: tag, equal: Float(tap))
  }
}

/// How `WindowPlan.scatter` distributes output gradients over the taps of their windows: each
/// vector of outputs gets a share and a tag (from `window`, pointing at the outputs' base
/// position), and tap `t` then receives `contribution(share, tag, t)`.
protocol WindowScatter {
  func share<V: LaneVector>(
    _ grad: V, y: Int, x: Int, window: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
    taps: Int) -> (share: V, tag: V)
  func contribution<V: LaneVector>(_ share: V, tag: V, tap: Int) -> V
}

extension WindowPlan {
  /// Floats in a plane of shares or tags (`outHeight` rows padded to whole vectors).
  var shareCount: Int { outHeight * roundUpToMultiple(outWidth, lanes) }

  /// Adds every output gradient `gradOutput[y, x]` (a dense `outHeight × outWidth` plane) into
  /// `target` at its window's taps, as decided by `rule`. Shares and tags are computed first,
  /// then added one tap at a time over the whole plane: the read-modify-writes of one tap never
  /// overlap, and those of consecutive taps are a plane apart (no store-forwarding stalls).
  func scatter<S: WindowScatter>(
    _ offsets: UnsafePointer<Int>, _ gradOutput: UnsafePointer<Float>,
    _ window: UnsafePointer<Float>, _ rule: S, shares: UnsafeMutablePointer<Float>,
    tags: UnsafeMutablePointer<Float>, into target: UnsafeMutablePointer<Float>
  ) {
    switch lanes {
    case 16: scatter(SIMD16<Float>.self, offsets, gradOutput, window, rule, shares, tags, target)
    case 8: scatter(SIMD8<Float>.self, offsets, gradOutput, window, rule, shares, tags, target)
    default: scatter(SIMD4<Float>.self, offsets, gradOutput, window, rule, shares, tags, target)
    }
  }

  private func scatter<V: LaneVector, S: WindowScatter>(
    _: V.Type, _ offsets: UnsafePointer<Int>, _ gradOutput: UnsafePointer<Float>,
    _ window: UnsafePointer<Float>, _ rule: S, _ shares: UnsafeMutablePointer<Float>,
    _ tags: UnsafeMutablePointer<Float>, _ target: UnsafeMutablePointer<Float>
  ) {
    let step = outputRowStep
    let shareStep = roundUpToMultiple(outWidth, V.scalarCount)
    // Zeros past the last output, so whole vectors can be added below.
    shares.update(repeating: 0, count: outHeight * shareStep)
    for y in 0..<outHeight {
      let row = gradOutput + y * outWidth
      forEachBlock { x in
        var grad = V()
        if outWidth >= V.scalarCount {
          grad = V.load(row + x)
        } else {
          for lane in 0..<outWidth { grad[lane] = row[lane] }
        }
        // An overlapping last block rewrites the same values.
        let (share, tag) = rule.share(
          grad, y: y, x: x, window: window + y * step + x, offsets: offsets, taps: tapCount)
        share.store(to: shares + y * shareStep + x)
        tag.store(to: tags + y * shareStep + x)
      }
    }
    for t in 0..<tapCount {
      for y in 0..<outHeight {
        let (destination, source) = (target + y * step + offsets[t], y * shareStep)
        for x in stride(from: 0, to: shareStep, by: V.scalarCount) {
          let add = rule.contribution(
            V.load(shares + source + x), tag: V.load(tags + source + x), tap: t)
          (V.load(destination + x) + add).store(to: destination + x)
        }
      }
    }
  }
}
