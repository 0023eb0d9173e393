import Synchronization

/// Fast single-precision matrix product; semantics those of `ReferenceGEMM` (sums in `Float`).
///
/// Goto/BLIS structure: `op(A)` is packed once per call into panels of `mr` rows, `op(B)` is packed
/// per task into panels of `nr` columns (`kc` deep; for few rows of A, full panels of an
/// untransposed B are read in place), and an `mr×nr` register tile of accumulators runs fused
/// multiply-adds over a pair of panels: `8×32` in sixteen of AVX-512's 32 registers, `6×16` in
/// twelve of AVX2's 16 (`VectorRegisters`; the wide tile spills on AVX2 and runs 4× slower). Work is split
/// into tasks over (batch item, row chunk, column chunk) that the pool's threads claim
/// dynamically; each thread owns one B-panel buffer. Scratch memory is reused across calls.
public enum GEMM {
  /// The register tile's rows and columns: `8×32` for 16-float registers, else `6×16`.
  private static func tile(wideRegisters: Bool) -> (rows: Int, columns: Int) { wideRegisters ? (8, 32) : (6, 16) }
  /// Depth of a packed block: a `kc×nr` B panel (32 KiB) stays in L1.
  private static let kc = 256
  /// Rows of A swept per B panel: an `mc×kc` A block (128 KiB) stays in L2.
  private static let mc = 128
  /// Rows of A up to which full panels of an untransposed B are not packed.
  private static let inPlaceRowLimit = 64
  /// Columns of B packed at once: a `kc×nc` B block (512 KiB) stays in L2.
  private static let nc = 512
  /// Rows of A and depths for which `2·nc` columns are packed at once (a block of at most
  /// 576 KiB, still in L2): packing such shallow products is mostly waiting on memory, and
  /// longer runs of each row (whole 4 KiB rows of a 32×32 plane) stream faster. Measured on
  /// 1×1 convolutions over 32×32 planes: 12–20% faster with 36 rows and 36 or 144 deep, or 144
  /// rows and 36 deep; 15–40% slower with 16 rows or 16 deep, hence the lower bounds.
  private static let wideBlockRows = 32
  private static let wideBlockDepths = 32...144

  /// The columns of B packed at once for `m` rows of A and products `k` deep.
  private static func columnBlock(rows m: Int, depth k: Int) -> Int {
    m >= wideBlockRows && wideBlockDepths.contains(k) ? 2 * nc : nc
  }

  /// `C = op(A)·op(B)`, or `C += op(A)·op(B)` when `accumulate`; row-major with leading
  /// dimensions.
  ///
  /// - Parameters:
  ///   - m, n, k: `op(A)` is `m×k`, `op(B)` is `k×n`, `C` is `m×n`.
  ///   - a: `m×k` with row stride `lda`, or `k×m` with row stride `lda` when `transposeA`.
  ///   - b: `k×n` with row stride `ldb`, or `n×k` with row stride `ldb` when `transposeB`.
  ///   - c: `m×n` with row stride `ldc`; must not overlap `a` or `b`.
  ///   - pool: threads to run on (nested calls from inside a pool task run serially).
  ///   - wideRegisters: use the tile for 16-float vector registers (default: this CPU's).
  public static func multiply(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, pool: WorkerPool,
    wideRegisters: Bool = VectorRegisters.areWide
  ) {
    multiplyBatched(
      batch: 1, m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA,
      b: b, ldb: ldb, transposeB: transposeB, batchStrideB: 0,
      c: c, ldc: ldc, batchStrideC: 0, accumulate: accumulate, pool: pool, wideRegisters: wideRegisters)
  }

  /// `C[i] = op(A)·op(B[i])` (or `+=` when `accumulate`) for `i` in `0..<batch`, with one shared
  /// `A`: `B[i] = b + i·batchStrideB`, `C[i] = c + i·batchStrideC`.
  ///
  /// Shapes and layouts as in `multiply`; `A` is packed once for the whole batch, so this is the
  /// fast path for a weight matrix applied to every image of a batch. The `C[i]` must not overlap.
  /// With `rectifyB`, B is read as `max(B, 0)` (applied while packing, so B is always packed):
  /// a 1×1 convolution of a ReLU's output without forming it.
  public static func multiplyBatched(
    batch: Int, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool, batchStrideB: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, batchStrideC: Int,
    accumulate: Bool, rectifyB: Bool = false, pool: WorkerPool, wideRegisters: Bool = VectorRegisters.areWide
  ) {
    if batch <= 0 || m <= 0 || n <= 0 { return }
    if k <= 0 {
      if !accumulate {
        for i in 0..<batch {
          for row in 0..<m { (c + i * batchStrideC + row * ldc).update(repeating: 0, count: n) }
        }
      }
      return
    }
    let (mr, nr) = tile(wideRegisters: wideRegisters)
    let mPanels = (m + mr - 1) / mr
    let nPanels = (n + nr - 1) / nr
    let kBlocks = (k + kc - 1) / kc
    // Split the work into at least four tasks per thread where the shape allows it: columns
    // first (no repeated packing of A), then rows (each row chunk re-packs its B panels).
    let threads = pool.threadCount
    let wanted = threads == 1 ? 1 : 4 * threads
    let columns = columnBlock(rows: m, depth: k)
    var colChunks = (nPanels * nr + columns - 1) / columns
    var rowChunks = 1
    if batch * colChunks < wanted {
      colChunks = min(nPanels, (wanted + batch - 1) / batch)
      rowChunks = min(mPanels, max(1, (wanted + batch * colChunks - 1) / (batch * colChunks)))
    }
    let taskCount = batch * rowChunks * colChunks
    let workers = min(threads, taskCount)
    let packedASize = mPanels * mr * k
    let bufferSize = kc * min(columns, nPanels * nr) + mr * nr
    pool.withScratch(count: packedASize + workers * bufferSize) { scratch in
      let packedA = scratch
      pool.parallelChunks(kBlocks * mPanels, grain: 16) { range in
        for t in range {
          packA(
            a, lda: lda, transposed: transposeA, m: m, k: k, mr: mr, rowPanel: t % mPanels,
            kBlock: t / mPanels, mPanels: mPanels, into: packedA)
        }
      }
      let problem = Problem(
        m: m, n: n, k: k, mr: mr, nr: nr, columns: columns, packedA: packedA, mPadded: mPanels * mr,
        b: b, ldb: ldb, transposeB: transposeB, rectifyB: rectifyB, ldc: ldc, accumulate: accumulate)
      let nextTask = Atomic<Int>(0)
      pool.parallelFor(workers) { worker in
        let packedB = scratch + packedASize + worker * bufferSize
        let tile = packedB + bufferSize - mr * nr
        while true {
          let task = nextTask.add(1, ordering: .relaxed).oldValue
          if task >= taskCount { return }
          let col = task % colChunks
          let row = (task / colChunks) % rowChunks
          let item = task / (colChunks * rowChunks)
          problem.run(
            rowPanels: (row * mPanels / rowChunks)..<((row + 1) * mPanels / rowChunks),
            colPanels: (col * nPanels / colChunks)..<((col + 1) * nPanels / colChunks),
            b: b + item * batchStrideB, c: c + item * batchStrideC, packedB: packedB, tile: tile)
        }
      }
    }
  }

  /// Packs rows `rowPanel·mr ..< +mr` and depths of block `kBlock` of `op(A)` as a `kcLen×mr`
  /// panel (element `(p, r)` at `p·mr + r`, rows past `m` zero) at offset
  /// `kBlock·kc·mPadded + rowPanel·kcLen·mr` of `packed`.
  private static func packA(
    _ a: UnsafePointer<Float>, lda: Int, transposed: Bool, m: Int, k: Int, mr: Int,
    rowPanel: Int, kBlock: Int, mPanels: Int, into packed: UnsafeMutablePointer<Float>
  ) {
    let p0 = kBlock * kc
    let kcLen = min(kc, k - p0)
    let i0 = rowPanel * mr
    let rows = min(mr, m - i0)
    let dst = packed + kBlock * kc * mPanels * mr + rowPanel * kcLen * mr
    if rows < mr { dst.update(repeating: 0, count: kcLen * mr) }
    if transposed {
      for p in 0..<kcLen {
        let src = a + (p0 + p) * lda + i0
        for r in 0..<rows { dst[p * mr + r] = src[r] }
      }
    } else {
      for r in 0..<rows {
        let src = a + (i0 + r) * lda + p0
        for p in 0..<kcLen { dst[p * mr + r] = src[p] }
      }
    }
  }

  /// One matrix product's operands and shape, shared read-only by the tasks.
  private struct Problem {
    let m: Int, n: Int, k: Int
    /// The register tile (`tile`).
    let mr: Int, nr: Int
    /// Columns of B packed at once (`columnBlock`).
    let columns: Int
    let packedA: UnsafeMutablePointer<Float>
    let mPadded: Int
    let b: UnsafePointer<Float>
    let ldb: Int
    let transposeB: Bool
    let rectifyB: Bool
    let ldc: Int
    let accumulate: Bool

    /// Whether full panels of an untransposed B are read where they are instead of packed: for
    /// few rows of A each panel is used a few times only, and streaming it straight from memory
    /// into the FMAs beats copying it first, unless the row stride makes many of the panel's
    /// rows fall into the same L1 set (4 KiB per way), as power-of-two widths do.
    var readsBInPlace: Bool {
      if transposeB || rectifyB || m > inPlaceRowLimit { return false }
      let rowsPerPeriod = 4096 >> min(12, (ldb * 4).trailingZeroBitCount)
      return (min(k, kc) + rowsPerPeriod - 1) / rowsPerPeriod <= 8
    }

    /// Computes the C tiles of row panels `rowPanels` × column panels `colPanels` for the batch
    /// item whose B and C start at `b` and `c`, packing B into `packedB` and using `tile` as
    /// scratch for partial edge tiles.
    func run(
      rowPanels: Range<Int>, colPanels: Range<Int>, b: UnsafePointer<Float>,
      c: UnsafeMutablePointer<Float>, packedB: UnsafeMutablePointer<Float>,
      tile: UnsafeMutablePointer<Float>
    ) {
      var jp = colPanels.lowerBound
      while jp < colPanels.upperBound {
        let jpEnd = min(colPanels.upperBound, jp + columns / nr)
        var p0 = 0
        while p0 < k {
          let kcLen = min(kc, k - p0)
          // In-place reads need full panels; a partial last panel is always packed.
          let fullEnd = min(jpEnd, n / nr)
          let firstPacked = readsBInPlace ? max(jp, fullEnd) : jp
          packB(b, p0: p0, kcLen: kcLen, panels: firstPacked..<jpEnd, into: packedB)
          let load = accumulate || p0 > 0
          let aBlock = packedA + p0 * mPadded
          var ip = rowPanels.lowerBound
          while ip < rowPanels.upperBound {
            let ipEnd = min(rowPanels.upperBound, ip + mc / mr)
            for q in jp..<jpEnd {
              let inPlace = q < firstPacked
              let bPanel: UnsafePointer<Float> =
                inPlace ? b + (p0 * ldb + q * nr) : UnsafePointer(packedB + (q - firstPacked) * kcLen * nr)
              let bStride = inPlace ? ldb : nr
              let cols = min(nr, n - q * nr)
              for r in ip..<ipEnd {
                let aPanel = aBlock + r * kcLen * mr
                let rows = min(mr, m - r * mr)
                let cTile = c + r * mr * ldc + q * nr
                if rows == mr && cols == nr {
                  microKernel(kcLen, aPanel, bPanel, bStride, cTile, ldc, load)
                } else {
                  if load { copyTile(rows, cols, from: cTile, ldc, to: tile, nr) }
                  microKernel(kcLen, aPanel, bPanel, bStride, tile, nr, load)
                  copyTile(rows, cols, from: tile, nr, to: cTile, ldc)
                }
              }
            }
            ip = ipEnd
          }
          p0 += kcLen
        }
        jp = jpEnd
      }
    }

    /// The register tile's kernel.
    @inline(__always)
    private func microKernel(
      _ kcLen: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bStride: Int,
      _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ load: Bool
    ) {
      if nr == 32 {
        GEMM.wideMicroKernel(kcLen, a, b, bStride, c, ldc, load)
      } else {
        GEMM.narrowMicroKernel(kcLen, a, b, bStride, c, ldc, load)
      }
    }

    /// Packs column panels `panels` (of `nr` columns each) at depths `p0 ..< p0 + kcLen` of
    /// `op(B)`, panel `q` as a `kcLen×nr` block (element `(p, j)` at `p·nr + j`, columns past
    /// `n` zero) at offset `(q − panels.lowerBound)·kcLen·nr` of `dst`, rectified when
    /// `rectifyB`. Untransposed B is read row by row, in long sequential runs that the hardware
    /// prefetcher follows.
    private func packB(
      _ b: UnsafePointer<Float>, p0: Int, kcLen: Int, panels: Range<Int>,
      into dst: UnsafeMutablePointer<Float>
    ) {
      let fullEnd = min(panels.upperBound, n / nr)
      if fullEnd < panels.upperBound {
        let last = dst + (panels.count - 1) * kcLen * nr
        last.update(repeating: 0, count: kcLen * nr)
      }
      if transposeB {
        for q in panels {
          let panel = dst + (q - panels.lowerBound) * kcLen * nr
          for j in 0..<min(nr, n - q * nr) {
            let src = b + (q * nr + j) * ldb + p0
            for p in 0..<kcLen { panel[p * nr + j] = rectifyB ? max(src[p], 0) : src[p] }
          }
        }
        return
      }
      for p in 0..<kcLen {
        let src = b + (p0 + p) * ldb
        var out = dst + p * nr
        for q in panels.lowerBound..<max(panels.lowerBound, fullEnd) {
          for j in stride(from: 0, to: nr, by: 16) {
            let v = load(src + q * nr + j)
            store(rectifyB ? v.rectified : v, out + j)
          }
          out += kcLen * nr
        }
        if fullEnd < panels.upperBound {
          let j0 = (panels.upperBound - 1) * nr
          for j in 0..<(n - j0) { out[j] = rectifyB ? max(src[j0 + j], 0) : src[j0 + j] }
        }
      }
    }
  }

  /// Copies a `rows×cols` block between two row-major buffers.
  @inline(__always)
  private static func copyTile(
    _ rows: Int, _ cols: Int, from src: UnsafePointer<Float>, _ lds: Int,
    to dst: UnsafeMutablePointer<Float>, _ ldd: Int
  ) {
    for r in 0..<rows { (dst + r * ldd).update(from: src + r * lds, count: cols) }
  }

  @inline(__always)
  private static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
  }

  @inline(__always)
  private static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
  }

  /// The `8×32` register tile in sixteen 16-float accumulators (`tileKernel`).
  @inline(never)
  fileprivate static func wideMicroKernel(
    _ kcLen: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bStride: Int,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ load: Bool
  ) {
    tileKernel(SIMD16<Float>.self, rows: 8, kcLen, a, b, bStride, c, ldc, load)
  }

  /// The `6×16` register tile in twelve 8-float accumulators, two B vectors and one broadcast:
  /// fifteen of AVX2's sixteen registers (`tileKernel`).
  @inline(never)
  fileprivate static func narrowMicroKernel(
    _ kcLen: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bStride: Int,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ load: Bool
  ) {
    tileKernel(SIMD8<Float>.self, rows: 6, kcLen, a, b, bStride, c, ldc, load)
  }

  /// A `rows × 2·V.scalarCount` register tile (`rows` 6 or 8, a constant where it is inlined):
  /// `C[r, j] (+)= Σ_p a[p·rows + r] · b[p·bStride + j]` over `kcLen` depths of a packed A panel
  /// and a B panel (packed: `bStride` = the tile's columns); `load` adds to C's old values. One
  /// pair of accumulators per row, unrolled by hand so they stay in registers.
  @inline(__always)
  private static func tileKernel<V: SIMD>(
    _: V.Type, rows: Int, _ kcLen: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bStride: Int,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ load: Bool
  ) where V.Scalar == Float {
    let w = V.scalarCount
    func get(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    func put(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
    var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
    if load {
      c00 = get(c); c01 = get(c + w)
      c10 = get(c + ldc); c11 = get(c + ldc + w)
      c20 = get(c + 2 * ldc); c21 = get(c + 2 * ldc + w)
      c30 = get(c + 3 * ldc); c31 = get(c + 3 * ldc + w)
      c40 = get(c + 4 * ldc); c41 = get(c + 4 * ldc + w)
      c50 = get(c + 5 * ldc); c51 = get(c + 5 * ldc + w)
      if rows == 8 {
        c60 = get(c + 6 * ldc); c61 = get(c + 6 * ldc + w)
        c70 = get(c + 7 * ldc); c71 = get(c + 7 * ldc + w)
      }
    }
    var a = a
    var b = b
    for _ in 0..<kcLen {
      let b0 = get(b)
      let b1 = get(b + w)
      var s = V(repeating: a[0])
      c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
      s = V(repeating: a[1])
      c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
      s = V(repeating: a[2])
      c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
      s = V(repeating: a[3])
      c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
      s = V(repeating: a[4])
      c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
      s = V(repeating: a[5])
      c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
      if rows == 8 {
        s = V(repeating: a[6])
        c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1)
        s = V(repeating: a[7])
        c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1)
      }
      a += rows
      b += bStride
    }
    put(c00, c); put(c01, c + w)
    put(c10, c + ldc); put(c11, c + ldc + w)
    put(c20, c + 2 * ldc); put(c21, c + 2 * ldc + w)
    put(c30, c + 3 * ldc); put(c31, c + 3 * ldc + w)
    put(c40, c + 4 * ldc); put(c41, c + 4 * ldc + w)
    put(c50, c + 5 * ldc); put(c51, c + 5 * ldc + w)
    if rows == 8 {
      put(c60, c + 6 * ldc); put(c61, c + 6 * ldc + w)
      put(c70, c + 7 * ldc); put(c71, c + 7 * ldc + w)
    }
  }
}
