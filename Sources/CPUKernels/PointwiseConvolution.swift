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
/// The weight gradient `dW = Σ_images dY · Xᵀ` contracts along pixels, which both operands
/// store contiguously: per image group (at least `weightGradientDepth` pixels; partial sums
/// added in group order) a dot-product kernel keeps 6×4 output channels in `SIMD16` accumulators
/// along the pixels of all the group's images, so nothing is packed or transposed. Strided
/// convolutions first gather the sampled input pixels into a packed temporary (and scatter the
/// input gradient back, zeros elsewhere).
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
    if pixels == g.inHeight * g.inWidth {
      return sampledBackwardInput(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput, pool: pool)
    }
    pool.withScratch(count: g.batch * g.inChannels * pixels) { sampled in
      sampledBackwardInput(g, gradOutput: gradOutput, weight: weight, gradInput: sampled, pool: pool)
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
  }

  /// The input gradient at the sampled pixels only, `[batch, Cin, Hout·Wout]`.
  private static func sampledBackwardInput(
    _ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput sampled: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    let pixels = g.outHeight * g.outWidth
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
  }

  /// The gradient of `forward` with respect to its weight: `gradWeight[o, c] =
  /// Σ_{n, y, x} gradOutput[n, o, y, x] · input[n, c, y·sH, x·sW]` (of `max(input, 0)` when
  /// `rectifiedInput`), shape `[Cout, Cin, 1, 1]`. `wideRegisters` chooses the dot-product
  /// kernel, else per-image GEMMs (default: this CPU's registers, `VectorRegisters`).
  public static func backwardWeight(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>, pool: WorkerPool, rectifiedInput: Bool = false,
    wideRegisters: Bool = VectorRegisters.areWide
  ) {
    let (cin, cout, batch) = (g.inChannels, g.outChannels, g.batch)
    let pixels = g.outHeight * g.outWidth
    let imagesPerGroup = max(1, min(batch, (weightGradientDepth + pixels - 1) / max(1, pixels)))
    let groupCount = (batch + imagesPerGroup - 1) / imagesPerGroup
    // NOTE: one partial sum per image group (not per thread), added in group order, and each of
    // its elements written by one task, so the result does not depend on which thread ran which
    // task: runs are bit-reproducible.
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: groupCount * cout * cin)
    defer { partials.deallocate() }
    withSampledInput(g, input, rectified: rectifiedInput, pool: pool) { x, rectify in
      let groups = (0..<groupCount).map { ($0 * imagesPerGroup)..<min(batch, ($0 + 1) * imagesPerGroup) }
      if wideRegisters {
        sumByDotTiles(g, x: x, gradOutput: gradOutput, rectify: rectify, groups: groups, into: partials, pool: pool)
      } else {
        sumByProducts(g, x: x, gradOutput: gradOutput, rectify: rectify, groups: groups, into: partials, pool: pool)
      }
    }
    gradWeight.update(from: partials, count: cout * cin)
    for group in 1..<max(1, groupCount) {
      for i in 0..<(cout * cin) { gradWeight[i] += partials[group * cout * cin + i] }
    }
  }

  /// Each group's `Σ_{n in group} dY_n · X_nᵀ` into `partials` (group after group) with the
  /// dot-product kernel (`WeightGradientPlan`), whose 6×4 tile of `SIMD16` accumulators fills
  /// 24 of AVX-512's 32 registers.
  private static func sumByDotTiles(
    _ g: ConvolutionGeometry, x: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, rectify: Bool,
    groups: [Range<Int>], into partials: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    let (cin, cout) = (g.inChannels, g.outChannels)
    let plan = WeightGradientPlan(
      cin: cin, cout: cout, pixels: g.outHeight * g.outWidth, depth: groups[0].count * g.outHeight * g.outWidth,
      x: x, gradOutput: gradOutput, rectify: rectify)
    let taskCount = groups.count * plan.narrowBlocks
    let nextTask = Atomic<Int>(0)
    pool.parallelFor(min(pool.threadCount, taskCount)) { _ in
      let sums = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: plan.sumCount)
      defer { sums.deallocate() }
      while true {
        let task = nextTask.add(1, ordering: .relaxed).oldValue
        if task >= taskCount { return }
        let (group, block) = task.quotientAndRemainder(dividingBy: plan.narrowBlocks)
        plan.run(groups[group], block: block, sums: sums, into: partials + group * cout * cin)
      }
    }
  }

  /// Each group's `Σ_{n in group} dY_n · X_nᵀ` into `partials` as matrix products, one per
  /// image accumulated in image order (`GEMM`, transposing X as it packs it): with AVX2's 16
  /// registers the dot-product kernel's tile spills, and GEMM's `6×16` tile does not
  /// (measured on the DARTS_V2 training step: 2.5× faster).
  private static func sumByProducts(
    _ g: ConvolutionGeometry, x: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, rectify: Bool,
    groups: [Range<Int>], into partials: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    let (cin, cout, pixels) = (g.inChannels, g.outChannels, g.outHeight * g.outWidth)
    let nextGroup = Atomic<Int>(0)
    pool.parallelFor(min(pool.threadCount, groups.count)) { _ in
      while true {
        let group = nextGroup.add(1, ordering: .relaxed).oldValue
        if group >= groups.count { return }
        for image in groups[group] {
          // Nested inside a pool task, the product runs on this thread alone.
          GEMM.multiplyBatched(
            batch: 1, m: cout, n: cin, k: pixels, a: gradOutput + image * cout * pixels, lda: pixels, transposeA: false,
            b: x + image * cin * pixels, ldb: pixels, transposeB: true, batchStrideB: 0,
            c: partials + group * cout * cin, ldc: cin, batchStrideC: 0,
            accumulate: image > groups[group].lowerBound, rectifyB: rectify, pool: pool, wideRegisters: false)
        }
      }
    }
  }

  /// Pixels (of whole images) over which each weight-gradient tile sums before its one
  /// horizontal reduction: an image group.
  static let weightGradientDepth = 2048

  /// The planes of the `narrow` operand's rows of one weight-gradient task, in bytes: half the
  /// L2, where they stay while every tile row re-reads them.
  static let weightGradientBlockBytes = 512 << 10

  /// Pixels per chunk of a weight-gradient tile row, in at most `weightGradientChunkImages`
  /// images: the `wide` rows' chunk (24 KiB) stays in L1 while the tiles of the row sweep it
  /// (measured: 512 pixels are slower on 32² and 16² planes, 1024 slower on 8×8 ones).
  static let weightGradientChunk = 1024
  static let weightGradientChunkImages = 8

  /// The weight gradient's tasks: per image group, the partial sum `Σ_{n in group} dY_n · X_nᵀ`
  /// (`[Cout × Cin]`), in blocks of the `narrow` operand's channels. A task sweeps register tiles
  /// of `wide` rows of one operand × `narrow` rows of the other (24 `SIMD16` accumulators along
  /// pixels): per row of tiles and chunk of pixels, every tile of the row adds the chunk to its
  /// accumulators (kept in memory between chunks), and each tile is reduced once per group. The
  /// operand with `wide` rows is the one whose channel count wastes fewer padded rows, else the
  /// one that makes fewer rows read (every block re-reads the wide operand), else the one with
  /// fewer channels (more blocks, so more tasks: 576→144 channels on 8×8 planes run as 27 tasks
  /// instead of 9). The orientation does not change any sum (the same products in the same
  /// order).
  private struct WeightGradientPlan {
    static let wide = 6, narrow = 4
    let cin: Int, cout: Int, pixels: Int
    /// The (sampled) input and the output gradient, `[batch, C, pixels]`.
    let x: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>
    let rectify: Bool
    /// Whether the output gradient is the operand with `wide` rows.
    let wideIsOutput: Bool
    /// Rows of the `narrow` operand per task, and the tasks per group.
    let narrowBlock: Int, narrowBlocks: Int
    /// Accumulators of one task's row of tiles, then ten vectors of `dotTile` scratch.
    var sumCount: Int { narrowBlock / Self.narrow * Self.wide * Self.narrow + 10 }

    init(
      cin: Int, cout: Int, pixels: Int, depth: Int, x: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
      rectify: Bool
    ) {
      (self.cin, self.cout, self.pixels, self.x, self.gradOutput, self.rectify) = (cin, cout, pixels, x, gradOutput, rectify)
      func padding(_ rows: Int, _ tile: Int) -> Int { (tile - rows % tile) % tile }
      let tilesPerBlock = max(1, weightGradientBlockBytes / (4 * depth * Self.narrow))
      func blocks(_ narrowRows: Int) -> Int {
        ((narrowRows + Self.narrow - 1) / Self.narrow + tilesPerBlock - 1) / tilesPerBlock
      }
      // Padded rows first, then the rows read per pixel (the narrow operand once, the wide one
      // once per block), then the fewer wide rows (more blocks: more tasks, and when only the
      // input is rectified, fewer of its vectors per tile): (padding, rows read, wide is larger).
      let outputWide = (
        padding(cout, Self.wide) + padding(cin, Self.narrow), cin + blocks(cin) * cout, cout > cin ? 1 : 0
      )
      let inputWide = (
        padding(cin, Self.wide) + padding(cout, Self.narrow), cout + blocks(cout) * cin, cin >= cout ? 1 : 0
      )
      wideIsOutput = outputWide < inputWide
      let narrowRows = wideIsOutput ? cin : cout
      let tiles = (narrowRows + Self.narrow - 1) / Self.narrow
      narrowBlock = (tiles + blocks(narrowRows) - 1) / blocks(narrowRows) * Self.narrow
      narrowBlocks = (narrowRows + narrowBlock - 1) / narrowBlock
    }

    /// Writes block `block` of the group `images`'s sum into `partial`, with `sums` (`sumCount`)
    /// as the accumulators.
    func run(
      _ images: Range<Int>, block: Int, sums: UnsafeMutablePointer<SIMD16<Float>>,
      into partial: UnsafeMutablePointer<Float>
    ) {
      let dy = Operand(base: gradOutput + images.lowerBound * cout * pixels, rows: cout, pixels: pixels)
      let xs = Operand(base: x + images.lowerBound * cin * pixels, rows: cin, pixels: pixels)
      let (wide, narrow) = wideIsOutput ? (dy, xs) : (xs, dy)
      let task = Task(
        narrowRows: (block * narrowBlock)..<min(narrow.rows, (block + 1) * narrowBlock),
        strides: wideIsOutput ? (cin, 1) : (1, cin), images: images.count, sums: sums,
        padded: UnsafeMutableRawPointer(sums + narrowBlock / Self.narrow * Self.wide * Self.narrow)
          .assumingMemoryBound(to: Float.self),
        partial: partial)
      switch (wideIsOutput, rectify) {
      case (true, true): task.tiles(AsStored.self, Rectified.self, wide, narrow)
      case (false, true): task.tiles(Rectified.self, AsStored.self, wide, narrow)
      default: task.tiles(AsStored.self, AsStored.self, wide, narrow)
      }
    }

    /// One task: element `(i, j)` of `wide · narrowᵀ` for the rows `narrowRows` goes to
    /// `partial[i·strides.wide + j·strides.narrow]`.
    private struct Task {
      let narrowRows: Range<Int>
      let strides: (wide: Int, narrow: Int)
      let images: Int
      let sums: UnsafeMutablePointer<SIMD16<Float>>
      /// `dotTile`'s tail scratch.
      let padded: UnsafeMutablePointer<Float>
      let partial: UnsafeMutablePointer<Float>

      func tiles<WideLoad: InputLoad, NarrowLoad: InputLoad>(
        _: WideLoad.Type, _: NarrowLoad.Type, _ wide: Operand, _ narrow: Operand
      ) {
        let (w, n) = (WeightGradientPlan.wide, WeightGradientPlan.narrow)
        let pixels = wide.pixels
        // Chunks: pixel ranges of one image, or whole images when they are smaller.
        let chunk = weightGradientChunk
        let imagesPerChunk = max(1, min(weightGradientChunkImages, chunk / max(1, pixels)))
        let chunksPerImage = imagesPerChunk > 1 ? 1 : (pixels + chunk - 1) / chunk
        let chunkCount = imagesPerChunk > 1 ? (images + imagesPerChunk - 1) / imagesPerChunk : images * chunksPerImage
        for i0 in stride(from: 0, to: wide.rows, by: w) {
          for c in 0..<chunkCount {
            let (imageRange, pixelRange) =
              imagesPerChunk > 1
              ? ((c * imagesPerChunk)..<min(images, (c + 1) * imagesPerChunk), 0..<pixels)
              : ((c / chunksPerImage)..<(c / chunksPerImage + 1),
                 (c % chunksPerImage * chunk)..<min(pixels, (c % chunksPerImage + 1) * chunk))
            for (t, j0) in stride(from: narrowRows.lowerBound, to: narrowRows.upperBound, by: n).enumerated() {
              dotTile(
                WideLoad.self, NarrowLoad.self, wide, i0, narrow, j0, images: imageRange, pixels: pixelRange,
                sums: sums + t * w * n, fresh: c == 0, padded: padded)
            }
          }
          for (t, j0) in stride(from: narrowRows.lowerBound, to: narrowRows.upperBound, by: n).enumerated() {
            for i in 0..<min(w, wide.rows - i0) {
              for j in 0..<min(n, narrowRows.upperBound - j0) {
                partial[(i0 + i) * strides.wide + (j0 + j) * strides.narrow] = sums[t * w * n + i * n + j].sum()
              }
            }
          }
        }
      }
    }
  }

  /// `rows` planes of `pixels` per image, images `rows·pixels` apart from `base`.
  private struct Operand {
    let base: UnsafePointer<Float>, rows: Int, pixels: Int

    /// Row `min(row, rows − 1)` of image `image`: rows past the last repeat it.
    @inline(__always) func row(_ row: Int, image: Int) -> UnsafePointer<Float> {
      base + (image * rows + min(row, rows - 1)) * pixels
    }
  }

  /// The rows of one `dotTile` image: six of `a`, four of `b`.
  private struct TileRows {
    var a: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)
    var b: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)

    /// Copies `count` values from offset `start` of each row to the rows of `padded`
    /// (`[10 × 16]`: the `a` rows, then the `b` rows).
    func copyTails(from start: Int, count: Int, to padded: UnsafeMutablePointer<Float>) {
      func copy(_ row: UnsafePointer<Float>, _ k: Int) { (padded + 16 * k).update(from: row + start, count: count) }
      copy(a.0, 0); copy(a.1, 1); copy(a.2, 2); copy(a.3, 3); copy(a.4, 4); copy(a.5, 5)
      copy(b.0, 6); copy(b.1, 7); copy(b.2, 8); copy(b.3, 9)
    }

    /// Moves every row on to the next image.
    mutating func advance(a strideA: Int, b strideB: Int) {
      a = (a.0 + strideA, a.1 + strideA, a.2 + strideA, a.3 + strideA, a.4 + strideA, a.5 + strideA)
      b = (b.0 + strideB, b.1 + strideB, b.2 + strideB, b.3 + strideB)
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
  /// temporary (pool scratch, whose pages stay mapped between calls), rectified while gathering
  /// when `rectified`.
  private static func withSampledInput(
    _ g: ConvolutionGeometry, _ input: UnsafePointer<Float>, rectified: Bool, pool: WorkerPool,
    _ body: (UnsafePointer<Float>, Bool) -> Void
  ) {
    let (ih, iw, oh, ow) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth)
    if oh * ow == ih * iw { return body(input, rectified) }
    pool.withScratch(count: g.batch * g.inChannels * oh * ow) { sampled in
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

  /// Adds to the 6×4 block of accumulators `sums[i·4 + j]` (or sets it, when `fresh`) the
  /// products `a_i[p] · b_j[p]` of rows `i0 + i` of `a` and `j0 + j` of `b` (read through `LoadA`
  /// and `LoadB`) at pixels `pixels` of images `images`, lane `p mod 16` of each; rows past an
  /// operand's last repeat it. `padded` (160 values) is scratch for the pixels past the last
  /// multiple of 16.
  @inline(never)
  private static func dotTile<LoadA: InputLoad, LoadB: InputLoad>(
    _: LoadA.Type, _: LoadB.Type, _ a: Operand, _ i0: Int, _ b: Operand, _ j0: Int,
    images: Range<Int>, pixels: Range<Int>, sums: UnsafeMutablePointer<SIMD16<Float>>, fresh: Bool,
    padded: UnsafeMutablePointer<Float>
  ) {
    typealias V = SIMD16<Float>
    let n0 = images.lowerBound
    var rows = TileRows(
      a: (a.row(i0, image: n0), a.row(i0 + 1, image: n0), a.row(i0 + 2, image: n0),
          a.row(i0 + 3, image: n0), a.row(i0 + 4, image: n0), a.row(i0 + 5, image: n0)),
      b: (b.row(j0, image: n0), b.row(j0 + 1, image: n0), b.row(j0 + 2, image: n0), b.row(j0 + 3, image: n0)))
    @inline(__always) func initial(_ t: Int) -> V { fresh ? V() : sums[t] }
    var s00 = initial(0), s01 = initial(1), s02 = initial(2), s03 = initial(3)
    var s10 = initial(4), s11 = initial(5), s12 = initial(6), s13 = initial(7)
    var s20 = initial(8), s21 = initial(9), s22 = initial(10), s23 = initial(11)
    var s30 = initial(12), s31 = initial(13), s32 = initial(14), s33 = initial(15)
    var s40 = initial(16), s41 = initial(17), s42 = initial(18), s43 = initial(19)
    var s50 = initial(20), s51 = initial(21), s52 = initial(22), s53 = initial(23)
    let vectorEnd = pixels.lowerBound + (pixels.count & ~15)
    let tail = pixels.upperBound - vectorEnd
    // The last pixels of each row, zero-padded to a vector (a full load could run past the
    // buffer), as one more pass of the loop below over `padded`.
    if tail > 0 { padded.update(repeating: 0, count: 160) }
    let pad = UnsafePointer(padded)
    let paddedRows = TileRows(
      a: (pad, pad + 16, pad + 32, pad + 48, pad + 64, pad + 80), b: (pad + 96, pad + 112, pad + 128, pad + 144))
    var (r, p, end) = (rows, pixels.lowerBound, vectorEnd)
    var (image, tailPending) = (0, tail > 0)
    while true {
      while p < end {
        let y0 = LoadB.vector(r.b.0.loadVector(at: p)), y1 = LoadB.vector(r.b.1.loadVector(at: p))
        let y2 = LoadB.vector(r.b.2.loadVector(at: p)), y3 = LoadB.vector(r.b.3.loadVector(at: p))
        var x = LoadA.vector(r.a.0.loadVector(at: p))
        s00 = s00.addingProduct(x, y0); s01 = s01.addingProduct(x, y1)
        s02 = s02.addingProduct(x, y2); s03 = s03.addingProduct(x, y3)
        x = LoadA.vector(r.a.1.loadVector(at: p))
        s10 = s10.addingProduct(x, y0); s11 = s11.addingProduct(x, y1)
        s12 = s12.addingProduct(x, y2); s13 = s13.addingProduct(x, y3)
        x = LoadA.vector(r.a.2.loadVector(at: p))
        s20 = s20.addingProduct(x, y0); s21 = s21.addingProduct(x, y1)
        s22 = s22.addingProduct(x, y2); s23 = s23.addingProduct(x, y3)
        x = LoadA.vector(r.a.3.loadVector(at: p))
        s30 = s30.addingProduct(x, y0); s31 = s31.addingProduct(x, y1)
        s32 = s32.addingProduct(x, y2); s33 = s33.addingProduct(x, y3)
        x = LoadA.vector(r.a.4.loadVector(at: p))
        s40 = s40.addingProduct(x, y0); s41 = s41.addingProduct(x, y1)
        s42 = s42.addingProduct(x, y2); s43 = s43.addingProduct(x, y3)
        x = LoadA.vector(r.a.5.loadVector(at: p))
        s50 = s50.addingProduct(x, y0); s51 = s51.addingProduct(x, y1)
        s52 = s52.addingProduct(x, y2); s53 = s53.addingProduct(x, y3)
        p += 16
      }
      if tailPending {
        rows.copyTails(from: vectorEnd, count: tail, to: padded)
        (r, p, end, tailPending) = (paddedRows, 0, 16, false)
        continue
      }
      image += 1
      if image == images.count { break }
      rows.advance(a: a.rows * a.pixels, b: b.rows * b.pixels)
      (r, p, end, tailPending) = (rows, pixels.lowerBound, vectorEnd, tail > 0)
    }
    (sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]) = (s00, s01, s02, s03, s10, s11)
    (sums[6], sums[7], sums[8], sums[9], sums[10], sums[11]) = (s12, s13, s20, s21, s22, s23)
    (sums[12], sums[13], sums[14], sums[15], sums[16], sums[17]) = (s30, s31, s32, s33, s40, s41)
    (sums[18], sums[19], sums[20], sums[21], sums[22], sums[23]) = (s42, s43, s50, s51, s52, s53)
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

