import CPUKernels
import Foundation

/// The kernel benchmark of `darts bench kernels`: every kernel family on the DARTS search
/// shapes (batch 64; C = 16, 32, 64 at 32², 16², 8²), on one thread and on `threads`, next to
/// the machine's memory-copy bandwidth and its best GEMM rate, so each kernel's ratio to the
/// limit that binds it is visible.
public struct KernelBenchmarks {
  public var threads: Int
  /// Seconds spent timing each entry.
  public var budget: Double

  public init(threads: Int, budget: Double = 0.25) {
    self.threads = threads
    self.budget = budget
  }

  /// The DARTS activation shapes: `(channels, spatial side)` at batch 64.
  public static let dartsShapes: [(channels: Int, side: Int)] = [(16, 32), (32, 16), (64, 8)]
  public static let batch = 64

  /// Runs every entry, calling `report` after each (for progressive output).
  public func run(report: (BenchmarkResult) -> Void) {
    let pools = Array(Set([1, threads])).sorted().map { WorkerPool(threadCount: $0) }
    let buffers = BufferSet()

    // Memory copy: far larger than L3 (DRAM), and L3-resident.
    for (label, mib) in [("copy 512MiB (DRAM)", 512), ("copy 8MiB (L3)", 8)] {
      let n = mib << 18
      let (src, dst) = (buffers.get("copy.src", n), buffers.get("copy.dst", n))
      for pool in pools {
        let ms = medianMilliseconds(budget: budget) { Elementwise.copy(src, dst, count: n, pool: pool) }
        report(BenchmarkResult(name: label, threads: pool.threadCount, ms: ms, flops: 0, bytes: Double(8 * n)))
      }
    }

    // Large GEMM: the compute roofline of this machine.
    let size = 512
    let (a, b, c) = (buffers.get("gemm.a", size * size), buffers.get("gemm.b", size * size), buffers.get("gemm.c", size * size))
    for pool in pools {
      let ms = medianMilliseconds(budget: budget) {
        GEMM.multiply(m: size, n: size, k: size, a: a, lda: size, transposeA: false, b: b, ldb: size, transposeB: false, c: c, ldc: size, accumulate: false, pool: pool)
      }
      report(BenchmarkResult(name: "gemm 512x512x512", threads: pool.threadCount, ms: ms, flops: 2 * pow(Double(size), 3), bytes: 12 * Double(size * size)))
    }

    for (channels, side) in Self.dartsShapes {
      let shape = "[\(Self.batch),\(channels),\(side),\(side)]"
      let count = Self.batch * channels * side * side
      let x = buffers.get("x", count)
      let y = buffers.get("y", count)
      let dy = buffers.get("dy", count)
      let dx = buffers.get("dx", count)
      let bytes = Double(4 * count)

      // Convolutions: 1×1 C→C, depthwise 3×3 and dilated 5×5 (stride 1).
      let convolutions: [(String, ConvolutionGeometry)] = [
        ("conv1x1 \(channels)->\(channels)", ConvolutionGeometry(batch: Self.batch, inChannels: channels, outChannels: channels, inHeight: side, inWidth: side, kernelHeight: 1, kernelWidth: 1)),
        ("dwconv3x3", ConvolutionGeometry(batch: Self.batch, inChannels: channels, outChannels: channels, inHeight: side, inWidth: side, kernelHeight: 3, kernelWidth: 3, padHeight: 1, padWidth: 1, groups: channels)),
        ("dwconv5x5 dil2", ConvolutionGeometry(batch: Self.batch, inChannels: channels, outChannels: channels, inHeight: side, inWidth: side, kernelHeight: 5, kernelWidth: 5, padHeight: 4, padWidth: 4, dilationHeight: 2, dilationWidth: 2, groups: channels)),
      ]
      for (label, g) in convolutions {
        let w = buffers.get("w", g.weightCount)
        let dw = buffers.get("dw", g.weightCount)
        for pool in pools {
          let tf = medianMilliseconds(budget: budget) { Convolution.forward(g, input: x, weight: w, output: y, pool: pool) }
          report(BenchmarkResult(name: "\(label) fwd \(shape)", threads: pool.threadCount, ms: tf, flops: g.flops, bytes: 2 * bytes))
          let ti = medianMilliseconds(budget: budget) { Convolution.backwardInput(g, gradOutput: dy, weight: w, gradInput: dx, pool: pool) }
          report(BenchmarkResult(name: "\(label) bwd-input \(shape)", threads: pool.threadCount, ms: ti, flops: g.flops, bytes: 2 * bytes))
          let tw = medianMilliseconds(budget: budget) { Convolution.backwardWeight(g, input: x, gradOutput: dy, gradWeight: dw, pool: pool) }
          report(BenchmarkResult(name: "\(label) bwd-weight \(shape)", threads: pool.threadCount, ms: tw, flops: g.flops, bytes: 2 * bytes))
        }
      }

      // Batch norm: statistics (1 read), affine (read + write), backward (2 reads of x and dy, 1 write).
      let mean = buffers.get("bn.mean", channels)
      let variance = buffers.get("bn.var", channels)
      let scale = buffers.get("bn.scale", channels)
      let gg = buffers.get("bn.gg", channels)
      let gb = buffers.get("bn.gb", channels)
      for i in 0..<channels { scale[i] = 1 }
      let spatial = side * side
      for pool in pools {
        let ts = medianMilliseconds(budget: budget) { BatchNormKernels.statistics(input: x, batch: Self.batch, channels: channels, spatial: spatial, mean: mean, variance: variance, pool: pool) }
        report(BenchmarkResult(name: "bn stats \(shape)", threads: pool.threadCount, ms: ts, flops: 0, bytes: bytes))
        let ta = medianMilliseconds(budget: budget) { BatchNormKernels.channelAffine(input: x, scale: scale, shift: mean, output: y, batch: Self.batch, channels: channels, spatial: spatial, pool: pool) }
        report(BenchmarkResult(name: "bn normalize \(shape)", threads: pool.threadCount, ms: ta, flops: 0, bytes: 2 * bytes))
        let tb = medianMilliseconds(budget: budget) { BatchNormKernels.backward(gradOutput: dy, input: x, mean: mean, invStd: scale, gamma: nil, gradInput: dx, gradGamma: gg, gradBeta: gb, batch: Self.batch, channels: channels, spatial: spatial, pool: pool) }
        report(BenchmarkResult(name: "bn backward \(shape)", threads: pool.threadCount, ms: tb, flops: 0, bytes: 5 * bytes))
      }

      // Pools 3×3 stride 1 pad 1 (same-size output).
      let pg = PoolGeometry(planes: Self.batch * channels, inHeight: side, inWidth: side, kernel: 3, stride: 1, padding: 1)
      for pool in pools {
        let tm = medianMilliseconds(budget: budget) { Pooling.maxForward(pg, input: x, output: y, pool: pool) }
        report(BenchmarkResult(name: "maxpool3x3 fwd \(shape)", threads: pool.threadCount, ms: tm, flops: 0, bytes: 2 * bytes))
        let tmb = medianMilliseconds(budget: budget) { Pooling.maxBackward(pg, input: x, gradOutput: dy, gradInput: dx, pool: pool) }
        report(BenchmarkResult(name: "maxpool3x3 bwd \(shape)", threads: pool.threadCount, ms: tmb, flops: 0, bytes: 3 * bytes))
        let tav = medianMilliseconds(budget: budget) { Pooling.averageForward(pg, countIncludePad: false, input: x, output: y, pool: pool) }
        report(BenchmarkResult(name: "avgpool3x3 fwd \(shape)", threads: pool.threadCount, ms: tav, flops: 0, bytes: 2 * bytes))
        let tavb = medianMilliseconds(budget: budget) { Pooling.averageBackward(pg, countIncludePad: false, gradOutput: dy, gradInput: dx, pool: pool) }
        report(BenchmarkResult(name: "avgpool3x3 bwd \(shape)", threads: pool.threadCount, ms: tavb, flops: 0, bytes: 2 * bytes))
      }

      // Element-wise.
      for pool in pools {
        let tr = medianMilliseconds(budget: budget) { Elementwise.relu(x, y, count: count, pool: pool) }
        report(BenchmarkResult(name: "relu \(shape)", threads: pool.threadCount, ms: tr, flops: 0, bytes: 2 * bytes))
        let trb = medianMilliseconds(budget: budget) { Elementwise.reluBackward(input: x, gradOutput: dy, gradInput: dx, count: count, pool: pool) }
        report(BenchmarkResult(name: "relu bwd \(shape)", threads: pool.threadCount, ms: trb, flops: 0, bytes: 3 * bytes))
        let ta = medianMilliseconds(budget: budget) { Elementwise.add(x, dy, y, count: count, pool: pool) }
        report(BenchmarkResult(name: "add \(shape)", threads: pool.threadCount, ms: ta, flops: 0, bytes: 3 * bytes))
      }
    }
  }
}

/// Named, reused, initialised buffers (so no timing includes first-touch page faults).
final class BufferSet {
  private var buffers: [String: UnsafeMutablePointer<Float>] = [:]

  /// The buffer called `name` with `count` elements (names are per size).
  func get(_ name: String, _ count: Int) -> UnsafeMutablePointer<Float> {
    let key = "\(name)#\(count)"
    if let p = buffers[key] { return p }
    let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
    var state: UInt32 = 12345
    for i in 0..<count {
      state = state &* 1_664_525 &+ 1_013_904_223
      p[i] = Float(Int32(bitPattern: state >> 8) - (1 << 23)) / Float(1 << 23)
    }
    buffers[key] = p
    return p
  }

  deinit { for (_, p) in buffers { p.deallocate() } }
}
