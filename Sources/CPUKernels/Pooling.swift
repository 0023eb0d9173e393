/// Fast 2-D max and average pooling over planes (`planes = batch·channels`); semantics exactly
/// those of `ReferencePooling`, any `PoolGeometry`.
///
/// Each plane is copied into a padded scratch buffer whose columns are split by stride phase
/// (the layout `DepthwiseConvolution` uses), so every window tap is a contiguous vector load
/// along the output row. The backward passes give each output a gradient share (and max
/// pooling the tap of its window's first maximum, recomputed from the input: no index tensor
/// is stored), then gather every input's gradient from the shares of the windows that cover it,
/// as the transposed convolution does (shares spread out by the stride, read at every tap).
/// Planes are spread over the pool.
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

  /// Runs a gathering backward pass; `input` (padded with NaN) is needed by max pooling only.
  private static func backward<S: WindowScatter>(
    _ g: PoolGeometry, input: UnsafePointer<Float>?, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool, _ rule: S
  ) {
    let (plan, back) = (WindowPlan.pooling(g), WindowPlan.transposed(g))
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    let (count, backCount) = (plan.layout.count, back.layout.count)
    // Scratch: dense shares and tags, their spread-out copies (tags `backCount` after the
    // shares), then the input's window buffer (max pooling). The padding (NaN for max pooling,
    // whose tags then match no tap; zero for average pooling) is never overwritten.
    let dense = roundUpToMultiple(outPlane, 16)
    let scratch = 2 * dense + 2 * backCount + (input == nil ? 0 : count)
    let gatherRule = RoutedShares(tags: input == nil ? nil : backCount, taps: back.tapCount)
    plan.withTapOffsets { offsets in
      back.withTapOffsets { backOffsets in
        forEachWindowTask(g.planes, scratch: scratch, fill: input == nil ? 0 : .nan, pool: pool) {
          plane, scratch in
          let (shares, tags) = (scratch, scratch + dense)
          let spread = tags + dense
          let window = spread + 2 * backCount
          if let input {
            plan.layout.transfer(plane: UnsafeMutablePointer(mutating: input + plane * inPlane),
              buffer: window, intoBuffer: true)
          }
          plan.share(offsets, gradOutput + plane * outPlane, window, rule, shares: shares, tags: tags)
          back.layout.transfer(plane: shares, buffer: spread, intoBuffer: true)
          if input != nil { back.layout.transfer(plane: tags, buffer: spread + backCount, intoBuffer: true) }
          back.gather(backOffsets, spread, gatherRule, gradInput + plane * inPlane)
        }
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
  func combine<V: LaneVector>(_ accumulator: V, _ value: UnsafePointer<Float>, tap: Int) -> V {
    V.maximum(accumulator, V.load(value))
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
  func combine<V: LaneVector>(_ accumulator: V, _ value: UnsafePointer<Float>, tap: Int) -> V {
    accumulator + V.load(value)
  }
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
}

/// Sends each output gradient to the first window maximum in row-major order.
struct FirstMaxRouting: WindowScatter {
  /// The gradient, tagged with `1 +` the tap of the first maximum.
  @inline(__always)
  func share<V: LaneVector>(
    _ grad: V, y: Int, x: Int, window: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
    taps: Int
  ) -> (share: V, tag: V) {
    var best = V.load(window + offsets[0])
    var bestTap = V(repeating: 1)  // tap numbers as floats (exact)
    for t in 1..<taps {
      V.takeGreater(V.load(window + offsets[t]), tag: Float(t + 1), best: &best, tag: &bestTap)
    }
    return (grad, bestTap)
  }
}

/// Sums the shares of the windows that cover each input: with `tags` (the distance from the
/// shares to their tags), only the shares whose tag names the tap that meets the input.
struct RoutedShares: WindowReduction {
  var tags: Int?
  var taps: Int

  @inline(__always) func start<V: LaneVector>() -> V { V() }
  @inline(__always)
  func combine<V: LaneVector>(_ accumulator: V, _ value: UnsafePointer<Float>, tap: Int) -> V {
    guard let tags else { return accumulator + V.load(value) }
    // Tap t of the gradient window meets the output windows' tap taps − 1 − t, tagged taps − t.
    return accumulator + V.load(value).keeping(where: V.load(value + tags), equal: Float(taps - tap))
  }
  @inline(__always) func finish<V: LaneVector>(_ accumulator: V, y: Int, x: Int) -> V { accumulator }
}

/// How a pooling backward pass splits output gradients over their windows: each vector of
/// outputs gets a share and a tag (from `window`, pointing at the outputs' base position); the
/// tag, when the pass uses tags, is `1 +` the one tap that receives the share, else every tap
/// receives it.
protocol WindowScatter {
  func share<V: LaneVector>(
    _ grad: V, y: Int, x: Int, window: UnsafePointer<Float>, offsets: UnsafePointer<Int>,
    taps: Int) -> (share: V, tag: V)
}

extension WindowPlan {
  /// Writes every output's share and tag, as decided by `rule`, into the dense
  /// `outHeight × outWidth` planes `shares` and `tags`, from the output gradient plane
  /// `gradOutput` of the same shape.
  func share<S: WindowScatter>(
    _ offsets: UnsafePointer<Int>, _ gradOutput: UnsafePointer<Float>,
    _ window: UnsafePointer<Float>, _ rule: S, shares: UnsafeMutablePointer<Float>,
    tags: UnsafeMutablePointer<Float>
  ) {
    switch lanes {
    case 16: share(SIMD16<Float>.self, offsets, gradOutput, window, rule, shares, tags)
    case 8: share(SIMD8<Float>.self, offsets, gradOutput, window, rule, shares, tags)
    default: share(SIMD4<Float>.self, offsets, gradOutput, window, rule, shares, tags)
    }
  }

  private func share<V: LaneVector, S: WindowScatter>(
    _: V.Type, _ offsets: UnsafePointer<Int>, _ gradOutput: UnsafePointer<Float>,
    _ window: UnsafePointer<Float>, _ rule: S, _ shares: UnsafeMutablePointer<Float>,
    _ tags: UnsafeMutablePointer<Float>
  ) {
    let step = outputRowStep
    for y in 0..<outHeight {
      let row = y * outWidth
      forEachBlock { x in
        let grad = outWidth >= V.scalarCount
          ? V.load(gradOutput + row + x) : V.load(gradOutput + row, count: outWidth)
        // An overlapping last block rewrites the same values.
        let (share, tag) = rule.share(
          grad, y: y, x: x, window: window + y * step + x, offsets: offsets, taps: tapCount)
        share.store(to: shares + row + x, count: outWidth)
        tag.store(to: tags + row + x, count: outWidth)
      }
    }
  }
}
