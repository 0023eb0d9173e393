import Synchronization

/// Fast 1×1 convolution (no padding, one group, any stride) over NCHW tensors; semantics those
/// of `ReferenceConvolution`, outputs overwritten.
///
/// Per image the forward pass is the matrix product `Y[Cout × HWout] = W[Cout × Cin] · X[Cin × HWout]`
/// and the input gradient `dX = Wᵀ · dY`: both run as one batched `GEMM` that packs the weight
/// once, except when the contraction is at most `directDepthLimit` channels deep (the
/// partial-channel operations of PC-DARTS): then a GEMM tile would spend its time on setup and
/// stores, and a direct loop computes every output row from the input rows of each 64-pixel
/// block while they are in L1. A ReLU before the convolution can be fused (`rectifiedInput`).
/// The weight gradient `dW = Σ_images dY · Xᵀ` is one GEMM per work item of a few images (their
/// gradient planes gathered side by side and their input pixel-major, so the contraction runs
/// over all their pixels), into per-item partial sums that are added in item order. Strided convolutions first gather the sampled input pixels into a packed temporary
/// (and scatter the input gradient back, zeros elsewhere).
public enum PointwiseConvolution {
  /// `output[n, o, y, x] = Σ_c input[n, c, y·sH, x·sW] · weight[o, c]`, of `max(input, 0)`
  /// when `rectifiedInput` (the rectified input is never stored).
  ///
  /// Input `[batch, Cin, H, W]`, weight `[Cout, Cin, 1, 1]`, output `[batch, Cout, Hout, Wout]`.
  public static func forward(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, pool: WorkerPool, rectifiedInput: Bool = false
  ) {
    withSampledInput(g, input, rectified: rectifiedInput, pool: pool) { x, rectify in
      let pixels = g.outHeight * g.outWidth
      if g.inChannels <= directDepthLimit {
        return shallowProduct(
          batch: g.batch, rows: g.outChannels, depth: g.inChannels, weight: { weight[$0 * g.inChannels + $1] },
          input: x, rectified: rectify, output: output, pixels: pixels, pool: pool)
      }
      GEMM.multiplyBatched(
        batch: g.batch, m: g.outChannels, n: pixels, k: g.inChannels,
        a: weight, lda: g.inChannels, transposeA: false,
        b: x, ldb: pixels, transposeB: false, batchStrideB: g.inChannels * pixels,
        c: output, ldc: pixels, batchStrideC: g.outChannels * pixels,
        accumulate: false, rectifyB: rectify, pool: pool)
    }
  }

  /// The gradient of `forward` with respect to its input, `[batch, Cin, H, W]`; pixels that a
  /// strided convolution skips get zero.
  public static func backwardInput(
    _ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    let pixels = g.outHeight * g.outWidth
    let strided = pixels != g.inHeight * g.inWidth
    let sampled =
      strided ? UnsafeMutablePointer<Float>.allocate(capacity: g.batch * g.inChannels * pixels) : gradInput
    defer { if strided { sampled.deallocate() } }
    if g.outChannels <= directDepthLimit {
      shallowProduct(
        batch: g.batch, rows: g.inChannels, depth: g.outChannels, weight: { weight[$1 * g.inChannels + $0] },
        input: gradOutput, rectified: false, output: sampled, pixels: pixels, pool: pool)
    } else {
      GEMM.multiplyBatched(
        batch: g.batch, m: g.inChannels, n: pixels, k: g.outChannels,
        a: weight, lda: g.inChannels, transposeA: true,
        b: gradOutput, ldb: pixels, transposeB: false, batchStrideB: g.outChannels * pixels,
        c: sampled, ldc: pixels, batchStrideC: g.inChannels * pixels,
        accumulate: false, pool: pool)
    }
    if !strided { return }
    let (ih, iw, oh, ow) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth)
    pool.parallelChunks(g.batch * g.inChannels, grain: 4) { planes in
      for plane in planes {
        let dst = gradInput + plane * ih * iw
        let src = sampled + plane * pixels
        dst.update(repeating: 0, count: ih * iw)
        for y in 0..<oh {
          for x in 0..<ow { dst[y * g.strideHeight * iw + x * g.strideWidth] = src[y * ow + x] }
        }
      }
    }
  }

  /// The gradient of `forward` with respect to its weight: `gradWeight[o, c] =
  /// Σ_{n, y, x} gradOutput[n, o, y, x] · input[n, c, y·sH, x·sW]` (of `max(input, 0)` when
  /// `rectifiedInput`), shape `[Cout, Cin, 1, 1]`.
  public static func backwardWeight(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>, pool: WorkerPool, rectifiedInput: Bool = false
  ) {
    let (cin, cout, batch) = (g.inChannels, g.outChannels, g.batch)
    let pixels = g.outHeight * g.outWidth
    // Images per work item: the item's input and gradient planes fit in L2 (1 MiB), so that
    // the item's GEMM contracts over as many pixels as that allows (a deep contraction keeps
    // the register tile busy on the small 8×8 planes of the last cells).
    let imagesPerItem = max(1, min(batch, (1 << 20) / max(1, (cin + cout) * pixels * 4)))
    let itemCount = (batch + imagesPerItem - 1) / imagesPerItem
    // NOTE: one partial sum per work item (not per thread), added in item order, so the result
    // does not depend on which thread ran which item: runs are bit-reproducible.
    let workers = min(pool.threadCount, itemCount)
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: itemCount * cout * cin)
    defer { partials.deallocate() }
    partials.update(repeating: 0, count: itemCount * cout * cin)
    withSampledInput(g, input, rectified: rectifiedInput, pool: pool) { x, rectify in
      let nextItem = Atomic<Int>(0)
      pool.parallelFor(workers) { _ in
        while true {
          let item = nextItem.add(1, ordering: .relaxed).oldValue
          if item >= itemCount { return }
          let n0 = item * imagesPerItem
          let images = min(imagesPerItem, batch - n0)
          let depth = images * pixels
          // dW_item = dY_item · X_itemᵀ, one GEMM over the item's pixels: the gradient planes
          // side by side, `[Cout × images·pixels]`, and the input pixel-major,
          // `[images·pixels × Cin]` (an untransposed B, whose panels the GEMM packs with
          // contiguous reads). A GEMM inside a pool task runs on this thread alone.
          pool.withScratch(count: (cout + cin) * depth) { packed in
            let (dy, xT) = (packed, packed + cout * depth)
            for channel in 0..<cout {
              for image in 0..<images {
                (dy + channel * depth + image * pixels).update(from: gradOutput + ((n0 + image) * cout + channel) * pixels, count: pixels)
              }
            }
            for image in 0..<images {
              for channel in 0..<cin {
                let source = x + ((n0 + image) * cin + channel) * pixels
                let destination = xT + image * pixels * cin + channel
                for p in 0..<pixels { destination[p * cin] = source[p] }
              }
            }
            GEMM.multiplyBatched(
              batch: 1, m: cout, n: cin, k: depth, a: dy, lda: depth, transposeA: false,
              b: xT, ldb: cin, transposeB: false, batchStrideB: 0,
              c: partials + item * cout * cin, ldc: cin, batchStrideC: 0, accumulate: false, rectifyB: rectify, pool: pool)
          }
        }
      }
    }
    gradWeight.update(from: partials, count: cout * cin)
    for item in 1..<max(1, itemCount) {
      for i in 0..<(cout * cin) { gradWeight[i] += partials[item * cout * cin + i] }
    }
  }

  /// Contraction depths (input channels forward, output channels backward) up to which the
  /// product runs as `shallowProduct` instead of GEMM (at 16 the two are even).
  static let directDepthLimit = 8

  /// `output[i][r, p] = Σ_{d < depth} weight(r, d)·x[i][d, p]` for every image `i` of
  /// `[depth, pixels]` inputs and `[rows, pixels]` outputs, with `x = max(input, 0)` when
  /// `rectified`, else `input`: per image and 64-pixel block, each output row is one pass of
  /// fused multiply-adds over the block's `depth` input rows.
  private static func shallowProduct(
    batch: Int, rows: Int, depth: Int, weight: (Int, Int) -> Float, input: UnsafePointer<Float>,
    rectified: Bool, output: UnsafeMutablePointer<Float>, pixels: Int, pool: WorkerPool
  ) {
    let w = (0..<(rows * depth)).map { weight($0 / depth, $0 % depth) }
    if rectified {
      shallowProduct(Rectified.self, rows, depth, w, input, output, batch: batch, pixels: pixels, pool: pool)
    } else {
      shallowProduct(AsStored.self, rows, depth, w, input, output, batch: batch, pixels: pixels, pool: pool)
    }
  }

  private static func shallowProduct<Load: InputLoad>(
    _: Load.Type, _ rows: Int, _ depth: Int, _ w: [Float], _ input: UnsafePointer<Float>,
    _ output: UnsafeMutablePointer<Float>, batch: Int, pixels: Int, pool: WorkerPool
  ) {
    let (x, y) = (UnsafeSendable(input), UnsafeSendable(UnsafePointer(output)))
    pool.parallelChunks(batch, grain: max(1, Elementwise.grain / max(1, (rows + depth) * pixels))) { images in
      for image in images {
        let source = x.pointer + image * depth * pixels
        let target = UnsafeMutablePointer(mutating: y.pointer) + image * rows * pixels
        var p = 0
        while p + 64 <= pixels {
          for r in 0..<rows {
            var (a0, a1, a2, a3) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
            for d in 0..<depth {
              let v = SIMD16<Float>(repeating: w[r * depth + d])
              let row = source + d * pixels + p
              a0 = a0.addingProduct(v, Load.vector(row.loadVector(at: 0)))
              a1 = a1.addingProduct(v, Load.vector(row.loadVector(at: 16)))
              a2 = a2.addingProduct(v, Load.vector(row.loadVector(at: 32)))
              a3 = a3.addingProduct(v, Load.vector(row.loadVector(at: 48)))
            }
            let out = target + r * pixels + p
            out.storeVector(a0, at: 0)
            out.storeVector(a1, at: 16)
            out.storeVector(a2, at: 32)
            out.storeVector(a3, at: 48)
          }
          p += 64
        }
        for r in 0..<rows {
          for q in p..<pixels {
            var sum: Float = 0
            for d in 0..<depth { sum = sum.addingProduct(w[r * depth + d], Load.scalar(source[d * pixels + q])) }
            target[r * pixels + q] = sum
          }
        }
      }
    }
  }

  /// Calls `body` with the input sampled at the output pixels, `[batch, Cin, Hout·Wout]`, and
  /// whether the body must still rectify it: the input itself for stride 1, else a gathered
  /// temporary, rectified while gathering when `rectified`.
  private static func withSampledInput(
    _ g: ConvolutionGeometry, _ input: UnsafePointer<Float>, rectified: Bool, pool: WorkerPool,
    _ body: (UnsafePointer<Float>, Bool) -> Void
  ) {
    let (ih, iw, oh, ow) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth)
    if oh * ow == ih * iw { return body(input, rectified) }
    let sampled = UnsafeMutablePointer<Float>.allocate(capacity: g.batch * g.inChannels * oh * ow)
    defer { sampled.deallocate() }
    pool.parallelChunks(g.batch * g.inChannels, grain: 4) { planes in
      for plane in planes {
        let src = input + plane * ih * iw
        let dst = sampled + plane * oh * ow
        for y in 0..<oh {
          for x in 0..<ow {
            let v = src[y * g.strideHeight * iw + x * g.strideWidth]
            dst[y * ow + x] = rectified ? max(v, 0) : v
          }
        }
      }
    }
    body(sampled, false)
  }
}

/// How `shallowProduct` reads input values: as stored, or rectified (a fused ReLU). A type
/// parameter, so each variant is compiled as its own loop.
private protocol InputLoad {
  static func vector(_ v: SIMD16<Float>) -> SIMD16<Float>
  static func scalar(_ x: Float) -> Float
}

private enum AsStored: InputLoad {
  @inline(__always) static func vector(_ v: SIMD16<Float>) -> SIMD16<Float> { v }
  @inline(__always) static func scalar(_ x: Float) -> Float { x }
}

private enum Rectified: InputLoad {
  @inline(__always) static func vector(_ v: SIMD16<Float>) -> SIMD16<Float> { v.rectified }
  @inline(__always) static func scalar(_ x: Float) -> Float { max(x, 0) }
}

