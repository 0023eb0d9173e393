/// 2-D convolution of any geometry (dense stems, 2×2, 1×7/7×1, grouped, dilated) over NCHW
/// tensors by im2col and `GEMM`; semantics those of `ReferenceConvolution`, outputs overwritten.
///
/// For each group the whole batch is lowered to one column matrix `col[K × batch·P]`, with
/// `K = Cin/groups · kh · kw` patch elements and `P = Hout·Wout` pixels per image (column
/// `n·P + p`), so that even 1×1 outputs give a wide matrix product:
/// * forward: `Y_g[Cout/groups × batch·P] = W_g · col`, scattered into NCHW;
/// * input gradient: `colGrad = W_gᵀ · dY_g`, summed back into the input pixels (col2im);
/// * weight gradient: `dW_g = dY_g · colᵀ`.
public enum GeneralConvolution {
  /// `output[n, o, y, x] = Σ_{c, ky, kx} input[n, g·Cg + c, y·sH − pH + ky·dH, x·sW − pW + kx·dW]
  /// · weight[o, c, ky, kx]` (zero outside the input), `g` the group of `o`.
  ///
  /// Input `[batch, Cin, H, W]`, weight `[Cout, Cin/groups, kh, kw]`, output
  /// `[batch, Cout, Hout, Wout]`.
  public static func forward(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    let s = Shape(g)
    pool.withScratch(count: s.k * s.columns + s.outPerGroup * s.columns) { scratch in
      let col = scratch
      let product = scratch + s.k * s.columns
      for group in 0..<g.groups {
        s.im2col(input, group: group, into: col, pool: pool)
        GEMM.multiply(
          m: s.outPerGroup, n: s.columns, k: s.k,
          a: weight + group * s.outPerGroup * s.k, lda: s.k, transposeA: false,
          b: col, ldb: s.columns, transposeB: false,
          c: product, ldc: s.columns, accumulate: false, pool: pool)
        s.copyGroupRows(tensor: output, rows: product, group: group, toRows: false, pool: pool)
      }
    }
  }

  /// The gradient of `forward` with respect to its input, `[batch, Cin, H, W]`.
  public static func backwardInput(
    _ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    let s = Shape(g)
    pool.withScratch(count: s.k * s.columns + s.outPerGroup * s.columns) { scratch in
      let colGrad = scratch
      let gradRows = scratch + s.k * s.columns
      for group in 0..<g.groups {
        s.copyGroupRows(
          tensor: UnsafeMutablePointer(mutating: gradOutput), rows: gradRows, group: group,
          toRows: true, pool: pool)
        GEMM.multiply(
          m: s.k, n: s.columns, k: s.outPerGroup,
          a: weight + group * s.outPerGroup * s.k, lda: s.k, transposeA: true,
          b: gradRows, ldb: s.columns, transposeB: false,
          c: colGrad, ldc: s.columns, accumulate: false, pool: pool)
        s.col2im(colGrad, group: group, into: gradInput, pool: pool)
      }
    }
  }

  /// The gradient of `forward` with respect to its weight, `[Cout, Cin/groups, kh, kw]`.
  public static func backwardWeight(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>, pool: WorkerPool
  ) {
    let s = Shape(g)
    // The reduction over batch·P columns is split across threads (each a serial GEMM into its
    // own partial sum): the weight matrix is too small to split.
    let workers = max(1, min(pool.threadCount, s.columns / 256))
    let partialSize = s.outPerGroup * s.k
    let matrices = s.k * s.columns + s.outPerGroup * s.columns
    pool.withScratch(count: matrices + workers * partialSize) { scratch in
      let col = scratch
      let gradRows = scratch + s.k * s.columns
      let partials = scratch + matrices
      for group in 0..<g.groups {
        s.im2col(input, group: group, into: col, pool: pool)
        s.copyGroupRows(
          tensor: UnsafeMutablePointer(mutating: gradOutput), rows: gradRows, group: group,
          toRows: true, pool: pool)
        pool.parallelFor(workers) { w in
          let start = w * s.columns / workers
          let end = (w + 1) * s.columns / workers
          GEMM.multiply(
            m: s.outPerGroup, n: s.k, k: end - start,
            a: gradRows + start, lda: s.columns, transposeA: false,
            b: col + start, ldb: s.columns, transposeB: true,
            c: partials + w * partialSize, ldc: s.k, accumulate: false, pool: pool)
        }
        let dst = gradWeight + group * partialSize
        dst.update(from: partials, count: partialSize)
        for w in 1..<workers {
          for i in 0..<partialSize { dst[i] += partials[w * partialSize + i] }
        }
      }
    }
  }

  /// Derived sizes of a geometry and the layout conversions between NCHW tensors and the
  /// per-group matrices with `batch·P` columns.
  private struct Shape {
    let g: ConvolutionGeometry
    /// Input channels per group.
    let inPerGroup: Int
    /// Output channels per group.
    let outPerGroup: Int
    /// Patch elements per column, `inPerGroup · kh · kw`.
    let k: Int
    /// Output pixels per image.
    let pixels: Int
    /// Columns of the matrices, `batch · pixels`.
    let columns: Int

    init(_ g: ConvolutionGeometry) {
      self.g = g
      inPerGroup = g.inChannels / g.groups
      outPerGroup = g.outChannels / g.groups
      k = inPerGroup * g.kernelHeight * g.kernelWidth
      pixels = g.outHeight * g.outWidth
      columns = g.batch * pixels
    }

    /// Calls `body(row, c, ky, kx, image)` for every (patch row, image) pair, in parallel.
    private func forEachPatchRow(
      pool: WorkerPool, _ body: (_ row: Int, _ c: Int, _ ky: Int, _ kx: Int, _ image: Int) -> Void
    ) {
      let (kh, kw) = (g.kernelHeight, g.kernelWidth)
      pool.parallelChunks(k * g.batch, grain: 4) { range in
        for item in range {
          let row = item / g.batch
          body(row, row / (kh * kw), row / kw % kh, row % kw, item % g.batch)
        }
      }
    }

    /// Fills `col[row][n·P + y·Wout + x]` with the input pixel that kernel tap
    /// `row = (c·kh + ky)·kw + kx` of group `group` sees at output pixel `(y, x)` of image `n`
    /// (zero in the padding).
    func im2col(
      _ input: UnsafePointer<Float>, group: Int, into col: UnsafeMutablePointer<Float>,
      pool: WorkerPool
    ) {
      let (ih, iw, oh, ow) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth)
      forEachPatchRow(pool: pool) { row, c, ky, kx, image in
        let src = input + (image * g.inChannels + group * inPerGroup + c) * ih * iw
        let dst = col + row * columns + image * pixels
        for y in 0..<oh {
          let iy = y * g.strideHeight - g.padHeight + ky * g.dilationHeight
          let line = dst + y * ow
          if iy < 0 || iy >= ih {
            line.update(repeating: 0, count: ow)
            continue
          }
          let x0 = kx * g.dilationWidth - g.padWidth
          for x in 0..<ow {
            let ix = x * g.strideWidth + x0
            line[x] = ix >= 0 && ix < iw ? src[iy * iw + ix] : 0
          }
        }
      }
    }

    /// Adds `colGrad[row][n·P + y·Wout + x]` into the input pixel that tap `row` of group
    /// `group` sees at output pixel `(y, x)`, after zeroing the group's input channels.
    func col2im(
      _ colGrad: UnsafePointer<Float>, group: Int, into gradInput: UnsafeMutablePointer<Float>,
      pool: WorkerPool
    ) {
      let (ih, iw, oh, ow) = (g.inHeight, g.inWidth, g.outHeight, g.outWidth)
      let taps = g.kernelHeight * g.kernelWidth
      // One task per (channel, image) plane: it owns the plane and sums all its taps.
      pool.parallelChunks(inPerGroup * g.batch, grain: 2) { range in
        for item in range {
          let (c, image) = (item / g.batch, item % g.batch)
          let dst = gradInput + (image * g.inChannels + group * inPerGroup + c) * ih * iw
          dst.update(repeating: 0, count: ih * iw)
          for tap in 0..<taps {
            let (ky, kx) = (tap / g.kernelWidth, tap % g.kernelWidth)
            let src = colGrad + (c * taps + tap) * columns + image * pixels
            let x0 = kx * g.dilationWidth - g.padWidth
            for y in 0..<oh {
              let iy = y * g.strideHeight - g.padHeight + ky * g.dilationHeight
              if iy < 0 || iy >= ih { continue }
              for x in 0..<ow {
                let ix = x * g.strideWidth + x0
                if ix >= 0 && ix < iw { dst[iy * iw + ix] += src[y * ow + x] }
              }
            }
          }
        }
      }
    }

    /// Copies between the group's output channels of an NCHW tensor and `rows[o][n·P + p]`,
    /// into the rows when `toRows`, into the tensor otherwise.
    func copyGroupRows(
      tensor: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>, group: Int,
      toRows: Bool, pool: WorkerPool
    ) {
      pool.parallelChunks(outPerGroup * g.batch, grain: 8) { range in
        for item in range {
          let (o, image) = (item / g.batch, item % g.batch)
          let plane = tensor + (image * g.outChannels + group * outPerGroup + o) * pixels
          let row = rows + o * columns + image * pixels
          if toRows {
            row.update(from: plane, count: pixels)
          } else {
            plane.update(from: row, count: pixels)
          }
        }
      }
    }
  }
}
