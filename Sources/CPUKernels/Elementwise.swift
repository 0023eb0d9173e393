import Foundation

/// Element-wise kernels over contiguous float buffers, vectorised with `SIMD16<Float>` and
/// split across the pool's threads in chunks large enough to amortise a fork-join.
public enum Elementwise {
  /// Elements per parallel chunk: below this a loop runs on the calling thread only.
  public static let grain = 32_768

  /// `out[i] = f(x[i])`, vectorised with `vector` and finished with `scalar` for the tail.
  @inline(__always)
  public static func map(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, pool: WorkerPool,
    vector: (SIMD16<Float>) -> SIMD16<Float>, scalar: (Float) -> Float
  ) {
    let xs = UnsafeSendable(x)
    let os = UnsafeSendable(UnsafePointer(out))
    pool.parallelChunks(count, grain: grain) { range in
      let x = xs.pointer
      let out = UnsafeMutablePointer(mutating: os.pointer)
      var i = range.lowerBound
      while i + 16 <= range.upperBound {
        out.storeVector(vector(x.loadVector(at: i)), at: i)
        i += 16
      }
      while i < range.upperBound {
        out[i] = scalar(x[i])
        i += 1
      }
    }
  }

  /// `out[i] = f(a[i], b[i])`, vectorised with `vector` and finished with `scalar` for the tail.
  @inline(__always)
  public static func zip(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    count: Int, pool: WorkerPool,
    vector: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, scalar: (Float, Float) -> Float
  ) {
    let (aS, bS, oS) = (UnsafeSendable(a), UnsafeSendable(b), UnsafeSendable(UnsafePointer(out)))
    pool.parallelChunks(count, grain: grain) { range in
      let (a, b) = (aS.pointer, bS.pointer)
      let out = UnsafeMutablePointer(mutating: oS.pointer)
      var i = range.lowerBound
      while i + 16 <= range.upperBound {
        out.storeVector(vector(a.loadVector(at: i), b.loadVector(at: i)), at: i)
        i += 16
      }
      while i < range.upperBound {
        out[i] = scalar(a[i], b[i])
        i += 1
      }
    }
  }

  public static func add(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    count: Int, pool: WorkerPool
  ) {
    zip(a, b, out, count: count, pool: pool, vector: { $0 + $1 }, scalar: { $0 + $1 })
  }

  public static func subtract(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    count: Int, pool: WorkerPool
  ) {
    zip(a, b, out, count: count, pool: pool, vector: { $0 - $1 }, scalar: { $0 - $1 })
  }

  public static func multiply(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    count: Int, pool: WorkerPool
  ) {
    zip(a, b, out, count: count, pool: pool, vector: { $0 * $1 }, scalar: { $0 * $1 })
  }

  public static func divide(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    count: Int, pool: WorkerPool
  ) {
    zip(a, b, out, count: count, pool: pool, vector: { $0 / $1 }, scalar: { $0 / $1 })
  }

  /// `out = x·scale + shift` with scalar `scale` and `shift`.
  public static func affine(
    _ x: UnsafePointer<Float>, scale: Float, shift: Float, _ out: UnsafeMutablePointer<Float>,
    count: Int, pool: WorkerPool
  ) {
    let s = SIMD16<Float>(repeating: scale)
    let t = SIMD16<Float>(repeating: shift)
    map(x, out, count: count, pool: pool, vector: { $0 * s + t }, scalar: { $0 * scale + shift })
  }

  /// `out = max(x, 0)`.
  public static func relu(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, pool: WorkerPool
  ) {
    map(x, out, count: count, pool: pool, vector: { $0.rectified }, scalar: { $0 < 0 ? 0 : $0 })
  }

  /// `gradInput = x > 0 ? gradOutput : 0` (the ReLU gradient; 0 at x = 0, as PyTorch).
  public static func reluBackward(
    input x: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>, count: Int, pool: WorkerPool
  ) {
    let zero = SIMD16<Float>(repeating: 0)
    zip(x, gradOutput, gradInput, count: count, pool: pool,
      vector: { x, g in g.replacing(with: zero, where: .!(x .> zero)) },
      scalar: { x, g in x > 0 ? g : 0 })
  }

  /// `out = exp(x)` (scalar `expf`; used on small tensors: logits and architecture weights).
  public static func exp(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, pool: WorkerPool
  ) {
    for i in 0..<count { out[i] = Foundation.exp(x[i]) }
  }

  /// `out = log(x)`.
  public static func log(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, pool: WorkerPool
  ) {
    for i in 0..<count { out[i] = Foundation.log(x[i]) }
  }

  /// Fills `out` with `value`.
  public static func fill(
    _ out: UnsafeMutablePointer<Float>, value: Float, count: Int, pool: WorkerPool
  ) {
    let os = UnsafeSendable(UnsafePointer(out))
    pool.parallelChunks(count, grain: grain * 4) { range in
      (UnsafeMutablePointer(mutating: os.pointer) + range.lowerBound)
        .update(repeating: value, count: range.count)
    }
  }

  /// Copies `count` floats from `source` to `destination`.
  public static func copy(
    _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, count: Int,
    pool: WorkerPool
  ) {
    let (s, d) = (UnsafeSendable(source), UnsafeSendable(UnsafePointer(destination)))
    pool.parallelChunks(count, grain: grain * 4) { range in
      (UnsafeMutablePointer(mutating: d.pointer) + range.lowerBound)
        .update(from: s.pointer + range.lowerBound, count: range.count)
    }
  }

  /// `y += alpha·x`.
  public static func addScaled(
    _ x: UnsafePointer<Float>, alpha: Float, into y: UnsafeMutablePointer<Float>, count: Int,
    pool: WorkerPool
  ) {
    let a = SIMD16<Float>(repeating: alpha)
    zip(y, x, y, count: count, pool: pool, vector: { $0 + a * $1 }, scalar: { $0 + alpha * $1 })
  }

  /// `Σ a[i]·b[i]`, accumulated in `Double` across SIMD partial sums.
  public static func dot(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, pool: WorkerPool
  ) -> Double {
    reduce(count: count, pool: pool) { i in a.loadVector(at: i) * b.loadVector(at: i) } scalar: {
      a[$0] * b[$0]
    }
  }

  /// `Σ x[i]`, accumulated in `Double` across SIMD partial sums.
  public static func sum(_ x: UnsafePointer<Float>, count: Int, pool: WorkerPool) -> Double {
    reduce(count: count, pool: pool) { i in x.loadVector(at: i) } scalar: { x[$0] }
  }

  /// Whether every `x[i]` is finite (neither NaN nor ±∞): `Σ 0·x[i]` is exactly 0 then, and
  /// NaN as soon as one element is not finite. One thread, no allocation: a run scans
  /// thousands of mostly small tensors after every step, memory-bound.
  public static func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
      acc += x.loadVector(at: i) * 0
      i += 16
    }
    var tail: Float = 0
    while i < count {
      tail += x[i] * 0
      i += 1
    }
    return acc.sum() + tail == 0
  }

  /// Sums `term(i)` over `0..<count`: 16 lanes at a time in Float within blocks of 4096
  /// elements, blocks combined in Double.
  @inline(__always)
  static func reduce(
    count: Int, pool: WorkerPool, vector: (Int) -> SIMD16<Float>, scalar: (Int) -> Float
  ) -> Double {
    let chunkCount = max(1, min(pool.threadCount * 4, count / grain))
    var partials = [Double](repeating: 0, count: chunkCount)
    partials.withUnsafeMutableBufferPointer { partialBuffer in
      let ps = UnsafeSendable(UnsafePointer(partialBuffer.baseAddress!))
      pool.parallelFor(chunkCount) { c in
        let start = count * c / chunkCount
        let end = count * (c + 1) / chunkCount
        var total = 0.0
        var i = start
        while i < end {
          let blockEnd = min(end, i + 4096)
          var acc = SIMD16<Float>(repeating: 0)
          while i + 16 <= blockEnd {
            acc += vector(i)
            i += 16
          }
          var tail: Float = 0
          while i < blockEnd {
            tail += scalar(i)
            i += 1
          }
          total += Double(acc.sum()) + Double(tail)
        }
        UnsafeMutablePointer(mutating: ps.pointer)[c] = total
      }
    }
    return partials.reduce(0, +)
  }
}

/// A pointer wrapper that may cross into worker threads; the kernels guarantee that threads
/// write disjoint ranges.
public struct UnsafeSendable<Pointee>: @unchecked Sendable {
  public let pointer: UnsafePointer<Pointee>
  @inline(__always) public init(_ pointer: UnsafePointer<Pointee>) { self.pointer = pointer }
}

extension SIMD16 where Scalar == Float {
  /// `max(lane, 0)` in every lane (a ReLU; NaN lanes stay NaN, as in PyTorch): for kernels
  /// that rectify their input as they read it.
  @inline(__always) public var rectified: Self { replacing(with: Self(), where: self .< Self()) }
}

extension UnsafePointer where Pointee == Float {
  /// Loads 16 consecutive floats starting at element `i` (no alignment required).
  @inline(__always) public func loadVector(at i: Int) -> SIMD16<Float> {
    UnsafeRawPointer(self + i).loadUnaligned(as: SIMD16<Float>.self)
  }
}

extension UnsafeMutablePointer where Pointee == Float {
  /// Loads 16 consecutive floats starting at element `i` (no alignment required).
  @inline(__always) public func loadVector(at i: Int) -> SIMD16<Float> {
    UnsafeRawPointer(self + i).loadUnaligned(as: SIMD16<Float>.self)
  }
  /// Stores 16 consecutive floats starting at element `i` (no alignment required).
  @inline(__always) public func storeVector(_ v: SIMD16<Float>, at i: Int) {
    UnsafeMutableRawPointer(self + i).storeBytes(of: v, as: SIMD16<Float>.self)
  }
}
