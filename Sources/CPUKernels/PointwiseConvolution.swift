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
/// The weight gradient `dW = Σ_images dY · Xᵀ` goes into per-item partial sums (a few images
/// each, added in item order): with at least `gemmWeightGradientChannels` channels on both sides
/// as one GEMM per item (its gradient planes side by side and its input pixel-major, so the
/// contraction runs over all its pixels), with fewer by a dot-product kernel (4×4 output
/// channels per register tile, `SIMD16` along pixels). Strided convolutions first gather the sampled input pixels into a packed temporary
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
    let gemm = min(cin, cout) >= gemmWeightGradientChannels
    // Images per work item: the item's input and gradient planes stay in L2 (tiles: re-read
    // once per 4×4 channel tile; GEMM: 1 MiB, so that the item's contraction runs over as many
    // pixels as that allows, which keeps the register tile busy on the 8×8 planes of the last
    // cells).
    let budget = gemm ? 1 << 20 : 256 << 10
    let imagesPerItem = max(1, min(batch, budget / max(1, (cin + cout) * pixels * 4)))
    let itemCount = (batch + imagesPerItem - 1) / imagesPerItem
    // NOTE: one partial sum per work item (not per thread), added in item order, so the result
    // does not depend on which thread ran which item: runs are bit-reproducible.
    let workers = min(pool.threadCount, itemCount)
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: itemCount * cout * cin)
    defer { partials.deallocate() }
    partials.update(repeating: 0, count: itemCount * cout * cin)
    withSampledInput(g, input, rectified: rectifiedInput, pool: pool) { x, rectify in
      let item = WeightGradientItem(
        cin: cin, cout: cout, pixels: pixels, x: x, gradOutput: gradOutput, rectify: rectify, pool: pool)
      let nextItem = Atomic<Int>(0)
      pool.parallelFor(workers) { _ in
        while true {
          let index = nextItem.add(1, ordering: .relaxed).oldValue
          if index >= itemCount { return }
          let n0 = index * imagesPerItem
          let images = n0..<min(n0 + imagesPerItem, batch)
          let partial = partials + index * cout * cin
          if gemm { item.gemm(images, into: partial) } else { item.tiles(images, into: partial) }
        }
      }
    }
    gradWeight.update(from: partials, count: cout * cin)
    for item in 1..<max(1, itemCount) {
      for i in 0..<(cout * cin) { gradWeight[i] += partials[item * cout * cin + i] }
    }
  }

  /// Channel counts (both sides) from which the weight gradient runs as GEMMs: below, the
  /// GEMM's 8×32 register tile is mostly padding and the 4×4 dot-product tiles are faster
  /// (measured on DARTS' 16–64 and 36–144 channel cells).
  public static let gemmWeightGradientChannels = 72

  /// One work item of the weight gradient: the partial sum `Σ_{n in images} dY_n · X_nᵀ`
  /// (`[Cout × Cin]`) of a few images, by either kernel.
  private struct WeightGradientItem {
    let cin: Int, cout: Int, pixels: Int
    /// The (sampled) input and the output gradient, `[batch, C, pixels]`.
    let x: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
    let rectify: Bool
    let pool: WorkerPool

    /// 4×4 dot-product tiles (`dotTile`), accumulated into `partial`.
    func tiles(_ images: Range<Int>, into partial: UnsafeMutablePointer<Float>) {
      var sums = SIMD16<Float>()
      let dy = gradOutput + images.lowerBound * cout * pixels
      let xs = x + images.lowerBound * cin * pixels
      for o0 in stride(from: 0, to: cout, by: 4) {
        for c0 in stride(from: 0, to: cin, by: 4) {
          // Rows past the last channel repeat it; their sums are dropped.
          dotTile(
            dy + min(o0, cout - 1) * pixels, dy + min(o0 + 1, cout - 1) * pixels,
            dy + min(o0 + 2, cout - 1) * pixels, dy + min(o0 + 3, cout - 1) * pixels,
            xs + min(c0, cin - 1) * pixels, xs + min(c0 + 1, cin - 1) * pixels,
            xs + min(c0 + 2, cin - 1) * pixels, xs + min(c0 + 3, cin - 1) * pixels,
            pixels: pixels, images: images.count, strideDY: cout * pixels, strideX: cin * pixels,
            rectifyX: rectify, into: &sums)
          for i in 0..<min(4, cout - o0) {
            for j in 0..<min(4, cin - c0) { partial[(o0 + i) * cin + c0 + j] += sums[i * 4 + j] }
          }
        }
      }
    }

    /// One GEMM over the item's pixels: the gradient planes side by side,
    /// `[Cout × images·pixels]`, times the input pixel-major, `[images·pixels × Cin]` (an
    /// untransposed B, whose panels the GEMM packs with contiguous reads); a GEMM inside a
    /// pool task runs on this thread alone. Overwrites `partial`.
    func gemm(_ images: Range<Int>, into partial: UnsafeMutablePointer<Float>) {
      let depth = images.count * pixels
      pool.withScratch(count: (cout + cin) * depth) { packed in
        let (dy, xT) = (packed, packed + cout * depth)
        for channel in 0..<cout {
          for (slot, image) in images.enumerated() {
            (dy + channel * depth + slot * pixels).update(from: gradOutput + (image * cout + channel) * pixels, count: pixels)
          }
        }
        for (slot, image) in images.enumerated() {
          for channel in 0..<cin {
            let source = x + (image * cin + channel) * pixels
            let destination = xT + slot * pixels * cin + channel
            for p in 0..<pixels { destination[p * cin] = source[p] }
          }
        }
        GEMM.multiplyBatched(
          batch: 1, m: cout, n: cin, k: depth, a: dy, lda: depth, transposeA: false,
          b: xT, ldb: cin, transposeB: false, batchStrideB: 0,
          c: partial, ldc: cin, batchStrideC: 0, accumulate: false, rectifyB: rectify, pool: pool)
      }
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

  /// `sums[i·4 + j] = Σ_{image, p} dy_i[image·strideDY + p] · x_j[image·strideX + p]` over
  /// `images` images of `pixels` pixels: a 4×4 block of the weight gradient.
  @inline(never)
  private static func dotTile(
    _ dy0: UnsafePointer<Float>, _ dy1: UnsafePointer<Float>,
    _ dy2: UnsafePointer<Float>, _ dy3: UnsafePointer<Float>,
    _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>,
    _ x2: UnsafePointer<Float>, _ x3: UnsafePointer<Float>,
    pixels: Int, images: Int, strideDY: Int, strideX: Int, rectifyX: Bool,
    into sums: inout SIMD16<Float>
  ) {
    typealias V = SIMD16<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V {
      UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }
    @inline(__always) func loadX(_ p: UnsafePointer<Float>) -> V { rectifyX ? load(p).rectified : load(p) }
    @inline(__always) func x(_ p: UnsafePointer<Float>) -> Float { rectifyX ? max(p.pointee, 0) : p.pointee }
    var s00 = V(), s01 = V(), s02 = V(), s03 = V(), s10 = V(), s11 = V(), s12 = V(), s13 = V()
    var s20 = V(), s21 = V(), s22 = V(), s23 = V(), s30 = V(), s31 = V(), s32 = V(), s33 = V()
    var tail = V()
    let vectorEnd = pixels & ~15
    for image in 0..<images {
      let (d0, d1, d2, d3) = (
        dy0 + image * strideDY, dy1 + image * strideDY, dy2 + image * strideDY,
        dy3 + image * strideDY
      )
      let (y0, y1, y2, y3) = (
        x0 + image * strideX, x1 + image * strideX, x2 + image * strideX, x3 + image * strideX
      )
      var p = 0
      while p < vectorEnd {
        let a0 = load(d0 + p), a1 = load(d1 + p), a2 = load(d2 + p), a3 = load(d3 + p)
        let b0 = loadX(y0 + p), b1 = loadX(y1 + p), b2 = loadX(y2 + p), b3 = loadX(y3 + p)
        s00 = s00.addingProduct(a0, b0); s01 = s01.addingProduct(a0, b1)
        s02 = s02.addingProduct(a0, b2); s03 = s03.addingProduct(a0, b3)
        s10 = s10.addingProduct(a1, b0); s11 = s11.addingProduct(a1, b1)
        s12 = s12.addingProduct(a1, b2); s13 = s13.addingProduct(a1, b3)
        s20 = s20.addingProduct(a2, b0); s21 = s21.addingProduct(a2, b1)
        s22 = s22.addingProduct(a2, b2); s23 = s23.addingProduct(a2, b3)
        s30 = s30.addingProduct(a3, b0); s31 = s31.addingProduct(a3, b1)
        s32 = s32.addingProduct(a3, b2); s33 = s33.addingProduct(a3, b3)
        p += 16
      }
      while p < pixels {
        let a = V(
          d0[p], d0[p], d0[p], d0[p], d1[p], d1[p], d1[p], d1[p],
          d2[p], d2[p], d2[p], d2[p], d3[p], d3[p], d3[p], d3[p])
        let (e0, e1, e2, e3) = (x(y0 + p), x(y1 + p), x(y2 + p), x(y3 + p))
        let b = V(e0, e1, e2, e3, e0, e1, e2, e3, e0, e1, e2, e3, e0, e1, e2, e3)
        tail = tail.addingProduct(a, b)
        p += 1
      }
    }
    sums = tail + V(
      s00.sum(), s01.sum(), s02.sum(), s03.sum(), s10.sum(), s11.sum(), s12.sum(), s13.sum(),
      s20.sum(), s21.sum(), s22.sum(), s23.sum(), s30.sum(), s31.sum(), s32.sum(), s33.sum())
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

