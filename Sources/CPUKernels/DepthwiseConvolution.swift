/// Fast depthwise 2-D convolution (`groups == inChannels == outChannels`, weight `[C, 1, kH, kW]`).
///
/// Any kernel size, stride, padding and dilation. Each `(batch, channel)` plane is copied into a
/// zero-padded scratch buffer whose columns are split by stride phase, so every kernel tap reads
/// a contiguous run of the buffer and the loops vectorise along the output row (`SIMD16`, `SIMD8`
/// or `SIMD4` lanes, four output rows per register block). Planes are spread over the pool. The
/// weight gradient reads each output-gradient vector once for all taps of a 3×3 or 5×5 kernel,
/// with one register sum per tap (`WindowPlan.correlate`).
/// Semantics are exactly those of `ReferenceConvolution` for depthwise geometries.
public enum DepthwiseConvolution {
  /// `output[n, c, y, x] = Σ_{ky, kx} input[n, c, y·s − p + ky·d, x·s − p + kx·d] · weight[c, 0, ky, kx]`.
  ///
  /// - Parameters:
  ///   - g: a depthwise geometry (`g.isDepthwise`).
  ///   - input: `[batch, C, inHeight, inWidth]`.
  ///   - weight: `[C, 1, kernelHeight, kernelWidth]`.
  ///   - output: `[batch, C, outHeight, outWidth]`, overwritten.
  ///   - rectifiedInput: convolve `max(input, 0)` (a ReLU fused into the input read).
  ///   - inputAffine: convolve the input mapped per channel (before the ReLU), as it is read.
  public static func forward(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, pool: WorkerPool, rectifiedInput: Bool = false,
    inputAffine: ChannelAffineRead? = nil
  ) {
    precondition(g.isDepthwise, "not a depthwise geometry: \(g)")
    var plan = WindowPlan.forward(g)
    plan.layout.rectify = rectifiedInput
    let taps = g.kernelHeight * g.kernelWidth
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    plan.withTapOffsets { offsets in
      forEachWindowTask(g.batch * g.inChannels, scratch: plan.layout.count, fill: 0, pool: pool) {
        plane, scratch in
        plan.layout.transfer(plane: UnsafeMutablePointer(mutating: input + plane * inPlane),
          buffer: scratch, intoBuffer: true, affine: inputAffine?.coefficients(channel: plane % g.inChannels))
        let kernel = TapWeights(weights: weight + (plane % g.inChannels) * taps, step: 1)
        plan.gather(offsets, scratch, kernel, output + plane * outPlane)
      }
    }
  }

  /// The gradient of `forward` with respect to its input, as a stride-1 correlation of the
  /// zero-inserted, fully padded output gradient with the flipped kernel.
  ///
  /// - Parameters:
  ///   - gradOutput: `[batch, C, outHeight, outWidth]`.
  ///   - weight: `[C, 1, kernelHeight, kernelWidth]`.
  ///   - gradInput: `[batch, C, inHeight, inWidth]`, overwritten.
  ///   - rectifiedInput: the forward pass read `max(rectifiedInput, 0)`; the gradient is zeroed
  ///     where the input is not positive (the fused ReLU's gradient).
  ///   - inputAffine: the forward pass mapped `rectifiedInput` per channel before the ReLU; the
  ///     gate is the mapped value.
  public static func backwardInput(
    _ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool, rectifiedInput: UnsafePointer<Float>? = nil,
    inputAffine: ChannelAffineRead? = nil
  ) {
    precondition(g.isDepthwise, "not a depthwise geometry: \(g)")
    let plan = WindowPlan.transposed(g)
    let taps = g.kernelHeight * g.kernelWidth
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    plan.withTapOffsets { offsets in
      forEachWindowTask(g.batch * g.inChannels, scratch: plan.layout.count, fill: 0, pool: pool) {
        plane, scratch in
        plan.layout.transfer(plane: UnsafeMutablePointer(mutating: gradOutput + plane * outPlane),
          buffer: scratch, intoBuffer: true)
        // The flipped kernel: tap t of the correlation uses weight[taps − 1 − t]; the fused
        // ReLU's gradient zeroes the outputs whose input was not positive.
        let flipped = TapWeights(
          weights: weight + (plane % g.inChannels + 1) * taps - 1, step: -1,
          gate: rectifiedInput.map {
            ($0 + plane * inPlane, g.inWidth, inputAffine?.coefficients(channel: plane % g.inChannels))
          })
        plan.gather(offsets, scratch, flipped, gradInput + plane * inPlane)
      }
    }
  }

  /// The gradient of `forward` with respect to its weight:
  /// `gradWeight[c, 0, ky, kx] = Σ_{n, y, x} gradOutput[n, c, y, x] · input[n, c, y·s − p + ky·d, x·s − p + kx·d]`.
  ///
  /// Threads take contiguous chunks of channels, each channel summed over the batch in image
  /// order inside its chunk, so no cross-thread reduction is needed and the result does not
  /// depend on the thread count.
  ///
  /// - Parameters:
  ///   - input: `[batch, C, inHeight, inWidth]`.
  ///   - gradOutput: `[batch, C, outHeight, outWidth]`.
  ///   - gradWeight: `[C, 1, kernelHeight, kernelWidth]`, overwritten.
  ///   - rectifiedInput: the forward pass read `max(input, 0)`.
  ///   - inputAffine: the forward pass mapped the input per channel (before the ReLU).
  public static func backwardWeight(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>, pool: WorkerPool, rectifiedInput: Bool = false,
    inputAffine: ChannelAffineRead? = nil
  ) {
    precondition(g.isDepthwise, "not a depthwise geometry: \(g)")
    var plan = WindowPlan.forward(g)
    plan.layout.rectify = rectifiedInput
    // Rows of at least one vector are read in place; narrower ones are copied into rows padded
    // with zeros to a whole vector.
    let gradLayout = g.outWidth >= plan.lanes ? nil : PlaneLayout(
      sourceHeight: g.outHeight, sourceWidth: g.outWidth, rowScale: 1, rowOffset: 0,
      columnScale: 1, columnOffset: 0, phases: 1, phaseWidth: plan.lanes, rows: g.outHeight)
    let taps = g.kernelHeight * g.kernelWidth
    let (inPlane, outPlane) = (g.inHeight * g.inWidth, g.outHeight * g.outWidth)
    // A chunk of channels runs image by image (reading each image's planes of the chunk in
    // one contiguous run). Its scratch: the input plane, the padded gradient plane, then each
    // channel's running sums, one vector per tap (kept there, not in `gradWeight`, whose
    // neighbouring channels other threads update: a shared cache line would bounce between
    // cores).
    let gradCount = gradLayout?.count ?? 0
    let sumsCount = taps * plan.lanes
    plan.withTapOffsets { offsets in
      forEachWindowChunk(g.inChannels, scratch: { plan.layout.count + gradCount + $0 * sumsCount },
        fill: 0, pool: pool) { channels, scratch in
        let gradBuffer = scratch + plan.layout.count
        let sums = gradBuffer + gradCount
        for n in 0..<g.batch {
          for c in channels {
            let plane = n * g.inChannels + c
            plan.layout.transfer(plane: UnsafeMutablePointer(mutating: input + plane * inPlane),
              buffer: scratch, intoBuffer: true, affine: inputAffine?.coefficients(channel: c))
            var grad = (rows: gradOutput + plane * outPlane, stride: g.outWidth, width: g.outWidth)
            if let gradLayout {
              gradLayout.transfer(plane: UnsafeMutablePointer(mutating: grad.rows),
                buffer: gradBuffer, intoBuffer: true)
              grad = (UnsafePointer(gradBuffer), plan.lanes, plan.lanes)
            }
            plan.correlate(offsets, scratch, grad.rows, rowStride: grad.stride, width: grad.width,
              into: sums + (c - channels.lowerBound) * sumsCount)
          }
        }
        for c in channels {
          let channelSums = sums + (c - channels.lowerBound) * sumsCount
          for t in 0..<taps {
            var total: Float = 0
            for lane in 0..<plan.lanes { total += channelSums[t * plan.lanes + lane] }
            gradWeight[c * taps + t] = total
          }
        }
      }
    }
  }
}

// MARK: - Windowed-plane engine (shared with Pooling)

/// Rounds `value` up to a multiple of `multiple`.
@inline(__always)
func roundUpToMultiple(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

/// A SIMD float vector the windowed kernels run on, with its double-width partner for
/// splitting a row into even and odd columns and merging it back.
///
/// The lane-wise comparisons are requirements because the standard library's generic `SIMD`
/// comparisons run lane by lane even when specialised; the concrete types' own operators
/// compile to vector instructions.
protocol LaneVector: SIMD where Scalar == Float {
  associatedtype Pair: SIMD where Pair.Scalar == Float
  static func split(_ pair: Pair) -> (even: Self, odd: Self)
  static func merge(even: Self, odd: Self) -> Pair
  /// Lane-wise `b > a ? b : a` (the first of equal values wins).
  static func maximum(_ a: Self, _ b: Self) -> Self
  /// Where `value > best`, or `best` is NaN: `best = value`, `tag = newTag`.
  static func takeGreater(_ value: Self, tag newTag: Float, best: inout Self, tag: inout Self)
  /// `self` in the lanes whose `tags` lane equals `tag`, zero elsewhere.
  func keeping(where tags: Self, equal tag: Float) -> Self
  /// `self` with lanes `0..<count` set to zero.
  func zeroingFirst(_ count: Int) -> Self
  /// `self` with zero in the lanes where `gate` is not positive.
  func zeroing(whereNotPositive gate: Self) -> Self
}

extension LaneVector {
  @inline(__always)
  static func load(_ p: UnsafePointer<Float>) -> Self {
    UnsafeRawPointer(p).loadUnaligned(as: Self.self)
  }
  @inline(__always)
  func store(to p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
  }
  /// Loads `count < scalarCount` lanes (zero in the others).
  @inline(__always)
  static func load(_ p: UnsafePointer<Float>, count: Int) -> Self {
    var v = Self()
    for lane in 0..<count { v[lane] = p[lane] }
    return v
  }
  /// Stores the first `count` lanes (all of them when `count >= scalarCount`).
  @inline(__always)
  func store(to p: UnsafeMutablePointer<Float>, count: Int) {
    if count >= scalarCount {
      store(to: p)
    } else {
      for lane in 0..<count { p[lane] = self[lane] }
    }
  }
}

extension SIMD16: LaneVector where Scalar == Float {
  @inline(__always)
  static func split(_ pair: SIMD32<Float>) -> (even: Self, odd: Self) { (pair.evenHalf, pair.oddHalf) }
  @inline(__always)
  static func merge(even: Self, odd: Self) -> SIMD32<Float> {
    var pair = SIMD32<Float>()
    (pair.evenHalf, pair.oddHalf) = (even, odd)
    return pair
  }
  @inline(__always)
  static func maximum(_ a: Self, _ b: Self) -> Self { a.replacing(with: b, where: b .> a) }
  @inline(__always)
  static func takeGreater(_ value: Self, tag newTag: Float, best: inout Self, tag: inout Self) {
    let mask = (value .> best) .| (best .!= best)
    best.replace(with: value, where: mask)
    tag.replace(with: newTag, where: mask)
  }
  @inline(__always)
  func keeping(where tags: Self, equal tag: Float) -> Self { replacing(with: 0, where: tags .!= tag) }
  @inline(__always)
  func zeroing(whereNotPositive gate: Self) -> Self { replacing(with: 0, where: gate .<= 0) }
  @inline(__always)
  func zeroingFirst(_ count: Int) -> Self {
    replacing(with: 0, where: Self(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .< Float(count))
  }
}

extension SIMD8: LaneVector where Scalar == Float {
  @inline(__always)
  static func split(_ pair: SIMD16<Float>) -> (even: Self, odd: Self) { (pair.evenHalf, pair.oddHalf) }
  @inline(__always)
  static func merge(even: Self, odd: Self) -> SIMD16<Float> {
    var pair = SIMD16<Float>()
    (pair.evenHalf, pair.oddHalf) = (even, odd)
    return pair
  }
  @inline(__always)
  static func maximum(_ a: Self, _ b: Self) -> Self { a.replacing(with: b, where: b .> a) }
  @inline(__always)
  static func takeGreater(_ value: Self, tag newTag: Float, best: inout Self, tag: inout Self) {
    let mask = (value .> best) .| (best .!= best)
    best.replace(with: value, where: mask)
    tag.replace(with: newTag, where: mask)
  }
  @inline(__always)
  func keeping(where tags: Self, equal tag: Float) -> Self { replacing(with: 0, where: tags .!= tag) }
  @inline(__always)
  func zeroing(whereNotPositive gate: Self) -> Self { replacing(with: 0, where: gate .<= 0) }
  @inline(__always)
  func zeroingFirst(_ count: Int) -> Self {
    replacing(with: 0, where: Self(0, 1, 2, 3, 4, 5, 6, 7) .< Float(count))
  }
}

extension SIMD4: LaneVector where Scalar == Float {
  @inline(__always)
  static func split(_ pair: SIMD8<Float>) -> (even: Self, odd: Self) { (pair.evenHalf, pair.oddHalf) }
  @inline(__always)
  static func merge(even: Self, odd: Self) -> SIMD8<Float> {
    var pair = SIMD8<Float>()
    (pair.evenHalf, pair.oddHalf) = (even, odd)
    return pair
  }
  @inline(__always)
  static func maximum(_ a: Self, _ b: Self) -> Self { a.replacing(with: b, where: b .> a) }
  @inline(__always)
  static func takeGreater(_ value: Self, tag newTag: Float, best: inout Self, tag: inout Self) {
    let mask = (value .> best) .| (best .!= best)
    best.replace(with: value, where: mask)
    tag.replace(with: newTag, where: mask)
  }
  @inline(__always)
  func keeping(where tags: Self, equal tag: Float) -> Self { replacing(with: 0, where: tags .!= tag) }
  @inline(__always)
  func zeroing(whereNotPositive gate: Self) -> Self { replacing(with: 0, where: gate .<= 0) }
  @inline(__always)
  func zeroingFirst(_ count: Int) -> Self {
    replacing(with: 0, where: Self(0, 1, 2, 3) .< Float(count))
  }
}

/// Runs `body(task, scratch)` for every task in `0..<count` on the pool. Tasks are grouped into
/// contiguous chunks; each chunk gets its own `scratch` region of `scratch` floats, set to
/// `fill` once before its first task (one allocation per call).
func forEachWindowTask(
  _ count: Int, scratch: Int, fill: Float, pool: WorkerPool,
  _ body: (Int, UnsafeMutablePointer<Float>) -> Void
) {
  forEachWindowChunk(count, scratch: { _ in scratch }, fill: fill, pool: pool) { tasks, region in
    for task in tasks { body(task, region) }
  }
}

/// Runs `body(tasks, scratch)` for contiguous chunks of tasks covering `0..<count` on the pool
/// (about four chunks per thread). Each chunk gets its own `scratch` region of
/// `scratch(largest chunk's task count)` floats, set to `fill` (one allocation per call).
func forEachWindowChunk(
  _ count: Int, scratch: (Int) -> Int, fill: Float, pool: WorkerPool,
  _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void
) {
  if count <= 0 { return }
  let chunks = min(count, pool.threadCount == 1 ? 1 : pool.threadCount * 4)
  let floats = scratch((count + chunks - 1) / chunks)
  // Regions start on cache lines (64 bytes), so aligned buffer rows give aligned vector loads.
  let stride = roundUpToMultiple(max(floats, 1), 16)
  let raw = UnsafeMutableRawPointer.allocate(byteCount: chunks * stride * 4, alignment: 64)
  defer { raw.deallocate() }
  let buffer = raw.bindMemory(to: Float.self, capacity: chunks * stride)
  pool.parallelFor(chunks) { chunk in
    let region = buffer + chunk * stride
    region.initialize(repeating: fill, count: floats)
    body((count * chunk / chunks)..<(count * (chunk + 1) / chunks), region)
  }
}

/// Where the elements of a source plane live in a padded scratch buffer.
///
/// Source row `i` goes to buffer row `i·rowScale + rowOffset`; source column `j` to the virtual
/// column `v = j·columnScale + columnOffset`, stored in phase `v % phases` at column
/// `v / phases` (each buffer row holds `phases` sub-rows of `phaseWidth` floats). Positions
/// outside the buffer are dropped; buffer positions no source element maps to keep their fill
/// value (the padding), since every plane writes the same positions.
struct PlaneLayout {
  var sourceHeight: Int
  var sourceWidth: Int
  var rowScale: Int
  var rowOffset: Int
  var columnScale: Int
  var columnOffset: Int
  var phases: Int
  var phaseWidth: Int
  var rows: Int
  /// Copy `max(x, 0)` into the buffer instead of `x` (a ReLU fused into the read).
  var rectify = false

  var rowStride: Int { phases * phaseWidth }
  var count: Int { rows * rowStride }

  /// The vectorised column mappings: plain copy (scale 1, one phase), even/odd split (scale 1,
  /// two phases) and, into the buffer only, zero insertion (scale 2, one phase).
  private enum RunKind { case copy, split, insert, scalar }

  @inline(__always)
  private func runKind(intoBuffer: Bool) -> RunKind {
    switch (columnScale, phases) {
    case (1, 1): .copy
    case (1, 2): .split
    case (2, 1) where intoBuffer: .insert
    default: .scalar
    }
  }

  /// Copies a whole plane into the buffer (`intoBuffer`) or back out of it; copying out writes
  /// zero for source positions outside the buffer. Copying in maps each value by `affine`
  /// (then rectifies it, with `rectify`).
  @inline(__always)
  func transfer(
    plane: UnsafeMutablePointer<Float>, buffer: UnsafeMutablePointer<Float>, intoBuffer: Bool,
    affine: ChannelAffineCoefficients? = nil
  ) {
    let kind = runKind(intoBuffer: intoBuffer)
    precondition(affine == nil || intoBuffer, "only a copy into the buffer maps its values")
    let width = kind == .split ? sourceWidth / 2 : sourceWidth
    if kind != .scalar && width >= 16 {
      transferRows(SIMD16<Float>.self, kind, plane, buffer, intoBuffer: intoBuffer, affine)
    } else if kind != .scalar && width >= 8 {
      transferRows(SIMD8<Float>.self, kind, plane, buffer, intoBuffer: intoBuffer, affine)
    } else {
      transferRows(SIMD4<Float>.self, width >= 4 ? kind : .scalar, plane, buffer, intoBuffer: intoBuffer, affine)
    }
  }

  /// A value as it enters the buffer: mapped by `affine`, then rectified with `rectify`.
  @inline(__always)
  private func entering<V: LaneVector>(_ x: V, _ affine: ChannelAffineCoefficients?) -> V {
    let mapped = affine.map { $0(x) } ?? x
    return rectify ? V.maximum(V(), mapped) : mapped
  }

  /// Moves every row in runs of `V` lanes (the last run moved left to end at the row's end;
  /// moving an element twice is harmless). A run that would leave the buffer moves element by
  /// element.
  @inline(__always)
  private func transferRows<V: LaneVector>(
    _: V.Type, _ kind: RunKind, _ plane: UnsafeMutablePointer<Float>,
    _ buffer: UnsafeMutablePointer<Float>, intoBuffer: Bool, _ affine: ChannelAffineCoefficients?
  ) {
    let run = kind == .split ? 2 * V.scalarCount : kind == .scalar ? sourceWidth : V.scalarCount
    for i in 0..<sourceHeight {
      let row = i * rowScale + rowOffset
      let planeRow = plane + i * sourceWidth
      guard row >= 0 && row < rows else {
        if !intoBuffer { planeRow.update(repeating: 0, count: sourceWidth) }
        continue
      }
      let bufferRow = buffer + row * rowStride
      var next = 0
      while next < sourceWidth {
        let j = min(next, sourceWidth - run)
        if !transferRun(V.self, kind, planeRow, bufferRow, at: j, intoBuffer: intoBuffer, affine) {
          for e in j..<(j + run) { transferElement(e, planeRow, bufferRow, intoBuffer: intoBuffer, affine) }
        }
        next = j + run
      }
    }
  }

  /// Moves the run of source columns starting at `j` with vector loads and stores; returns
  /// false (moving nothing) when the run does not fit in the buffer row.
  @inline(__always)
  private func transferRun<V: LaneVector>(
    _: V.Type, _ kind: RunKind, _ planeRow: UnsafeMutablePointer<Float>,
    _ bufferRow: UnsafeMutablePointer<Float>, at j: Int, intoBuffer: Bool,
    _ affine: ChannelAffineCoefficients?
  ) -> Bool {
    let n = V.scalarCount
    switch kind {
    case .copy:
      let v = j + columnOffset
      guard v >= 0 && v + n <= phaseWidth else { return false }
      if intoBuffer {
        entering(V.load(planeRow + j), affine).store(to: bufferRow + v)
      } else {
        V.load(bufferRow + v).store(to: planeRow + j)
      }
    case .split:
      let v = j + columnOffset
      guard v >= 0 && (v + 1) >> 1 + n <= phaseWidth else { return false }
      let even = bufferRow + (v & 1) * phaseWidth + v >> 1
      let odd = bufferRow + ((v + 1) & 1) * phaseWidth + (v + 1) >> 1
      if intoBuffer {
        let (e, o) = V.split(UnsafeRawPointer(planeRow + j).loadUnaligned(as: V.Pair.self))
        entering(e, affine).store(to: even)
        entering(o, affine).store(to: odd)
      } else {
        UnsafeMutableRawPointer(planeRow + j).storeBytes(
          of: V.merge(even: V.load(even), odd: V.load(odd)), as: V.Pair.self)
      }
    case .insert:
      precondition(!rectify && affine == nil, "zero insertion never reads a rectified or mapped input")
      // Odd buffer columns of the run get the zeros they already hold.
      let v = 2 * j + columnOffset
      guard v >= 0 && v + 2 * n <= phaseWidth else { return false }
      UnsafeMutableRawPointer(bufferRow + v).storeBytes(
        of: V.merge(even: V.load(planeRow + j), odd: V()), as: V.Pair.self)
    case .scalar:
      return false
    }
    return true
  }

  /// Buffer index of source column `j`, or nil when it falls outside the buffer.
  @inline(__always)
  private func bufferIndex(_ j: Int) -> Int? {
    let v = j * columnScale + columnOffset
    if v < 0 { return nil }
    let (column, phase) = v.quotientAndRemainder(dividingBy: phases)
    return column < phaseWidth ? phase * phaseWidth + column : nil
  }

  @inline(__always)
  private func transferElement(
    _ j: Int, _ planeRow: UnsafeMutablePointer<Float>, _ bufferRow: UnsafeMutablePointer<Float>,
    intoBuffer: Bool, _ affine: ChannelAffineCoefficients?
  ) {
    let index = bufferIndex(j)
    if intoBuffer {
      let mapped = affine.map { $0(planeRow[j]) } ?? planeRow[j]
      if let index { bufferRow[index] = rectify ? max(mapped, 0) : mapped }
    } else {
      planeRow[j] = index.map { bufferRow[$0] } ?? 0
    }
  }
}

/// A sliding-window computation over a plane held in a `PlaneLayout` buffer: output
/// `(y, x)` combines the buffer values at row `y·strideY + ky·dilationY` and virtual column
/// `x·strideX + kx·dilationX` for every tap `t = ky·kernelWidth + kx` (row-major).
struct WindowPlan {
  /// Output rows computed together (one register accumulator each).
  static let rowBlock = 4

  var outHeight: Int
  var outWidth: Int
  var kernelHeight: Int
  var kernelWidth: Int
  var strideY: Int
  var dilationY: Int
  var strideX: Int
  var dilationX: Int
  /// Vector width along the output row: 16, 8 or 4.
  var lanes: Int
  var layout: PlaneLayout

  /// A window over a source plane of `sourceHeight × sourceWidth` placed at
  /// `(row·rowScale + rowOffset, column·columnScale + columnOffset)`. The buffer is sized so
  /// whole vectors and whole row blocks can be read past the last output.
  init(
    outHeight: Int, outWidth: Int, kernelHeight: Int, kernelWidth: Int, strideY: Int,
    strideX: Int, dilationY: Int, dilationX: Int, sourceHeight: Int, sourceWidth: Int,
    rowScale: Int, rowOffset: Int, columnScale: Int, columnOffset: Int
  ) {
    precondition(outHeight > 0 && outWidth > 0, "empty window output")
    self.outHeight = outHeight
    self.outWidth = outWidth
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth
    self.strideY = strideY
    self.strideX = strideX
    self.dilationY = dilationY
    self.dilationX = dilationX
    // 16 lanes only where a SIMD16 is one register: the weight gradient keeps one vector of
    // sums per tap (nine for 3×3), which in AVX2's 8-float registers would take twice as many.
    lanes = outWidth >= 16 && VectorRegisters.areWide ? 16 : outWidth >= 8 ? 8 : 4
    layout = PlaneLayout(
      sourceHeight: sourceHeight, sourceWidth: sourceWidth, rowScale: rowScale,
      rowOffset: rowOffset, columnScale: columnScale, columnOffset: columnOffset, phases: strideX,
      // Whole cache lines per row: the taps with no column shift load aligned vectors.
      phaseWidth: roundUpToMultiple(
        roundUpToMultiple(outWidth, lanes) + (kernelWidth - 1) * dilationX / strideX, 16),
      rows: (roundUpToMultiple(outHeight, Self.rowBlock) - 1) * strideY + (kernelHeight - 1) * dilationY + 1)
  }

  /// The forward window of a convolution: input placed at offset `(padH, padW)`.
  static func forward(_ g: ConvolutionGeometry) -> WindowPlan {
    WindowPlan(
      outHeight: g.outHeight, outWidth: g.outWidth, kernelHeight: g.kernelHeight,
      kernelWidth: g.kernelWidth, strideY: g.strideHeight, strideX: g.strideWidth,
      dilationY: g.dilationHeight, dilationX: g.dilationWidth, sourceHeight: g.inHeight,
      sourceWidth: g.inWidth, rowScale: 1, rowOffset: g.padHeight, columnScale: 1,
      columnOffset: g.padWidth)
  }

  /// The input-gradient window of a convolution: the output gradient spread out by the stride
  /// (zero insertion) at offset `dilation·(kernel − 1) − pad`, correlated at stride 1 over
  /// the input's extent (with the flipped kernel).
  static func transposed(_ g: ConvolutionGeometry) -> WindowPlan {
    WindowPlan(
      outHeight: g.inHeight, outWidth: g.inWidth, kernelHeight: g.kernelHeight,
      kernelWidth: g.kernelWidth, strideY: 1, strideX: 1, dilationY: g.dilationHeight,
      dilationX: g.dilationWidth, sourceHeight: g.outHeight, sourceWidth: g.outWidth,
      rowScale: g.strideHeight, rowOffset: (g.kernelHeight - 1) * g.dilationHeight - g.padHeight,
      columnScale: g.strideWidth,
      columnOffset: (g.kernelWidth - 1) * g.dilationWidth - g.padWidth)
  }

  /// The input-gradient window of a pooling layer: output-shaped planes spread out by the
  /// stride (zero insertion) at offset `kernel − 1 − pad`, correlated at stride 1 over the
  /// input's extent (tap `t` of the correlation meets the output windows' tap `taps − 1 − t`).
  static func transposed(_ g: PoolGeometry) -> WindowPlan {
    WindowPlan(
      outHeight: g.inHeight, outWidth: g.inWidth, kernelHeight: g.kernelHeight,
      kernelWidth: g.kernelWidth, strideY: 1, strideX: 1, dilationY: 1, dilationX: 1,
      sourceHeight: g.outHeight, sourceWidth: g.outWidth, rowScale: g.strideHeight,
      rowOffset: g.kernelHeight - 1 - g.padHeight, columnScale: g.strideWidth,
      columnOffset: g.kernelWidth - 1 - g.padWidth)
  }

  /// The forward window of a pooling layer.
  static func pooling(_ g: PoolGeometry) -> WindowPlan {
    WindowPlan(
      outHeight: g.outHeight, outWidth: g.outWidth, kernelHeight: g.kernelHeight,
      kernelWidth: g.kernelWidth, strideY: g.strideHeight, strideX: g.strideWidth,
      dilationY: 1, dilationX: 1, sourceHeight: g.inHeight, sourceWidth: g.inWidth, rowScale: 1,
      rowOffset: g.padHeight, columnScale: 1, columnOffset: g.padWidth)
  }

  var tapCount: Int { kernelHeight * kernelWidth }
  /// Buffer distance between output rows `y` and `y + 1`.
  var outputRowStep: Int { strideY * layout.rowStride }

  /// Calls `body` with the buffer offset of every tap relative to its output position's base
  /// `y·outputRowStep + x` (a small stack table).
  func withTapOffsets<R>(_ body: (UnsafePointer<Int>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: Int.self, capacity: tapCount) { table in
      for ky in 0..<kernelHeight {
        for kx in 0..<kernelWidth {
          let (shift, phase) = (kx * dilationX).quotientAndRemainder(dividingBy: strideX)
          table[ky * kernelWidth + kx] =
            ky * dilationY * layout.rowStride + phase * layout.phaseWidth + shift
        }
      }
      return body(UnsafePointer(table.baseAddress!))
    }
  }

  /// Calls `body(x)` for vector blocks covering `0..<outWidth`: blocks start at multiples of
  /// `lanes`, except that the last one is moved left to end at `outWidth` (when the row holds a
  /// whole vector), overlapping the previous block.
  @inline(__always)
  func forEachBlock(_ body: (_ x: Int) -> Void) {
    var x = 0
    repeat {
      body(outWidth >= lanes ? min(x, outWidth - lanes) : 0)
      x += lanes
    } while x < outWidth
  }

  /// Computes the output plane `output[y, x] = finish(fold_t combine(·, window value t))`
  /// (`combine` gets a pointer to the window value, so it can read more buffers of the same
  /// layout at a fixed distance).
  func gather<R: WindowReduction>(
    _ offsets: UnsafePointer<Int>, _ buffer: UnsafePointer<Float>, _ reduction: R,
    _ output: UnsafeMutablePointer<Float>
  ) {
    switch lanes {
    case 16: gather(SIMD16<Float>.self, offsets, buffer, reduction, output)
    case 8: gather(SIMD8<Float>.self, offsets, buffer, reduction, output)
    default: gather(SIMD4<Float>.self, offsets, buffer, reduction, output)
    }
  }

  private func gather<V: LaneVector, R: WindowReduction>(
    _: V.Type, _ offsets: UnsafePointer<Int>, _ buffer: UnsafePointer<Float>, _ reduction: R,
    _ output: UnsafeMutablePointer<Float>
  ) {
    let step = outputRowStep
    let (width, taps) = (outWidth, tapCount)
    for y in stride(from: 0, to: outHeight, by: Self.rowBlock) {
      forEachBlock { x in
        let base = buffer + y * step + x
        var a0: V = reduction.start()
        var (a1, a2, a3) = (a0, a0, a0)
        for t in 0..<taps {
          let p = base + offsets[t]
          a0 = reduction.combine(a0, p, tap: t)
          a1 = reduction.combine(a1, p + step, tap: t)
          a2 = reduction.combine(a2, p + 2 * step, tap: t)
          a3 = reduction.combine(a3, p + 3 * step, tap: t)
        }
        let out = output + y * width + x
        let rowsLeft = outHeight - y
        reduction.finish(a0, y: y, x: x).store(to: out, count: width)
        if rowsLeft > 1 { reduction.finish(a1, y: y + 1, x: x).store(to: out + width, count: width) }
        if rowsLeft > 2 { reduction.finish(a2, y: y + 2, x: x).store(to: out + 2 * width, count: width) }
        if rowsLeft > 3 { reduction.finish(a3, y: y + 3, x: x).store(to: out + 3 * width, count: width) }
      }
    }
  }

  /// Adds `Σ_{y, x} grad[y, x] · window value t at (y, x)` to the vector `sums[t·lanes ..<
  /// (t + 1)·lanes]` (lane-wise partial sums) for every tap, with `grad` an
  /// `outHeight × width` plane of rows `rowStride` apart (`lanes ≤ width`; `width` is
  /// `outWidth`, or a whole vector over a zero-padded copy of a narrower row).
  ///
  /// Taps go in groups of 25, 9, 5, 3 or 1 (a 5×5 or 3×3 kernel in one group), each group one
  /// pass over the plane that reads a gradient vector once for all its taps and keeps each
  /// tap's sum in a register.
  func correlate(
    _ offsets: UnsafePointer<Int>, _ buffer: UnsafePointer<Float>, _ grad: UnsafePointer<Float>,
    rowStride: Int, width: Int, into sums: UnsafeMutablePointer<Float>
  ) {
    switch lanes {
    case 16: correlate(SIMD16<Float>.self, offsets, buffer, grad, rowStride, width, sums)
    case 8: correlate(SIMD8<Float>.self, offsets, buffer, grad, rowStride, width, sums)
    default: correlate(SIMD4<Float>.self, offsets, buffer, grad, rowStride, width, sums)
    }
  }

  private func correlate<V: LaneVector>(
    _: V.Type, _ offsets: UnsafePointer<Int>, _ buffer: UnsafePointer<Float>,
    _ grad: UnsafePointer<Float>, _ rowStride: Int, _ width: Int, _ sums: UnsafeMutablePointer<Float>
  ) {
    typealias Three = ThreeTaps<OneTap<V>>
    typealias Five = FiveTaps<OneTap<V>>
    var t = 0
    while t < tapCount {
      let (o, s) = (offsets + t, sums + t * V.scalarCount)
      switch tapCount - t {
      case 25...: t += correlate(FiveTaps<Five>.self, o, buffer, grad, rowStride, width, s)
      case 9...: t += correlate(ThreeTaps<Three>.self, o, buffer, grad, rowStride, width, s)
      case 5...: t += correlate(Five.self, o, buffer, grad, rowStride, width, s)
      case 3...: t += correlate(Three.self, o, buffer, grad, rowStride, width, s)
      default: t += correlate(OneTap<V>.self, o, buffer, grad, rowStride, width, s)
      }
    }
  }

  /// One pass for the taps of group `S`; returns their number.
  @inline(__always)
  private func correlate<S: TapSums>(
    _: S.Type, _ offsets: UnsafePointer<Int>, _ buffer: UnsafePointer<Float>,
    _ grad: UnsafePointer<Float>, _ rowStride: Int, _ width: Int, _ sums: UnsafeMutablePointer<Float>
  ) -> Int {
    let n = S.Vector.scalarCount
    let step = outputRowStep
    var acc = S()
    // The last vector of a row that is not a whole number of vectors ends at the row's end,
    // with the lanes earlier vectors covered zeroed.
    let (whole, tail) = (width / n * n, width % n)
    for y in 0..<outHeight {
      let (d, b) = (grad + y * rowStride, buffer + y * step)
      var x = 0
      while x < whole {
        acc.accumulate(S.Vector.load(d + x), b + x, offsets)
        x += n
      }
      if tail > 0 {
        acc.accumulate(S.Vector.load(d + width - n).zeroingFirst(n - tail), b + width - n, offsets)
      }
    }
    acc.add(to: sums)
    return S.count
  }
}

/// Register accumulators for a compile-time number of kernel taps (nested groups unroll
/// completely, one register per tap).
protocol TapSums {
  associatedtype Vector: LaneVector
  static var count: Int { get }
  init()
  /// Tap `t`'s sum `+= grad · window[offsets[t]]` for every tap.
  mutating func accumulate(_ grad: Vector, _ window: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>)
  /// Adds tap `t`'s sum to the vector at `sums + t·Vector.scalarCount`.
  func add(to sums: UnsafeMutablePointer<Float>)
}

struct OneTap<Vector: LaneVector>: TapSums {
  var sum = Vector()
  static var count: Int { 1 }
  @inline(__always)
  mutating func accumulate(_ grad: Vector, _ window: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>) {
    sum.addProduct(grad, Vector.load(window + offsets[0]))
  }
  @inline(__always)
  func add(to sums: UnsafeMutablePointer<Float>) { (Vector.load(sums) + sum).store(to: sums) }
}

/// Three consecutive groups of taps.
struct ThreeTaps<Group: TapSums>: TapSums {
  typealias Vector = Group.Vector
  var groups = (Group(), Group(), Group())
  static var count: Int { 3 * Group.count }
  @inline(__always)
  mutating func accumulate(_ grad: Vector, _ window: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>) {
    groups.0.accumulate(grad, window, offsets)
    groups.1.accumulate(grad, window, offsets + Group.count)
    groups.2.accumulate(grad, window, offsets + 2 * Group.count)
  }
  @inline(__always)
  func add(to sums: UnsafeMutablePointer<Float>) {
    let n = Group.count * Vector.scalarCount
    groups.0.add(to: sums)
    groups.1.add(to: sums + n)
    groups.2.add(to: sums + 2 * n)
  }
}

/// Five consecutive groups of taps.
struct FiveTaps<Group: TapSums>: TapSums {
  typealias Vector = Group.Vector
  var first = ThreeTaps<Group>()
  var rest = (Group(), Group())
  static var count: Int { 5 * Group.count }
  @inline(__always)
  mutating func accumulate(_ grad: Vector, _ window: UnsafePointer<Float>, _ offsets: UnsafePointer<Int>) {
    first.accumulate(grad, window, offsets)
    rest.0.accumulate(grad, window, offsets + 3 * Group.count)
    rest.1.accumulate(grad, window, offsets + 4 * Group.count)
  }
  @inline(__always)
  func add(to sums: UnsafeMutablePointer<Float>) {
    let n = Group.count * Vector.scalarCount
    first.add(to: sums)
    rest.0.add(to: sums + 3 * n)
    rest.1.add(to: sums + 4 * n)
  }
}

/// How a `WindowPlan.gather` folds the window values of one output position (lane-wise).
protocol WindowReduction {
  func start<V: LaneVector>() -> V
  func combine<V: LaneVector>(_ accumulator: V, _ value: UnsafePointer<Float>, tap: Int) -> V
  func finish<V: LaneVector>(_ accumulator: V, y: Int, x: Int) -> V
}

/// Σ_t weights[t·step] · value_t (a correlation with one channel's kernel).
struct TapWeights: WindowReduction {
  var weights: UnsafePointer<Float>
  var step: Int
  /// A plane of the output's shape (its rows and their width), optionally mapped: where it is
  /// not positive, the output is zero instead of the sum.
  var gate: (rows: UnsafePointer<Float>, width: Int, affine: ChannelAffineCoefficients?)? = nil

  @inline(__always) func start<V: LaneVector>() -> V { V() }
  @inline(__always)
  func combine<V: LaneVector>(_ accumulator: V, _ value: UnsafePointer<Float>, tap: Int) -> V {
    accumulator.addingProduct(V.load(value), V(repeating: weights[tap * step]))
  }
  @inline(__always)
  func finish<V: LaneVector>(_ accumulator: V, y: Int, x: Int) -> V {
    guard let gate else { return accumulator }
    let row = gate.rows + y * gate.width + x
    let values: V = gate.width >= V.scalarCount ? V.load(row) : V.load(row, count: gate.width)
    return accumulator.zeroing(whereNotPositive: gate.affine.map { $0(values) } ?? values)
  }
}
