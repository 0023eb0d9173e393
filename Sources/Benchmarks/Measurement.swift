import Foundation
import Runs
import TensorCore

/// One benchmark result: the median time of repeated runs and the rates it implies.
public struct BenchmarkResult: Codable, Sendable {
  /// What ran, e.g. `conv1x1 fwd [64,16,32,32] 16->16`.
  public var name: String
  /// Threads the kernel ran on.
  public var threads: Int
  /// Median wall time of one run, milliseconds.
  public var ms: Double
  /// Arithmetic rate (2·multiply-adds per second / 1e9), 0 where not meaningful.
  public var gflops: Double
  /// Memory traffic rate: bytes read plus bytes written per second / 1e9 (each tensor counted
  /// once per pass).
  public var gbps: Double

  public init(name: String, threads: Int, ms: Double, flops: Double, bytes: Double) {
    self.name = name
    self.threads = threads
    self.ms = ms
    self.gflops = flops / (ms * 1e6)
    self.gbps = bytes / (ms * 1e6)
  }
}

/// Runs `body` repeatedly (after warm-up runs) until about `budget` seconds have passed
/// (at least `minimumRuns` runs) and returns the median time in milliseconds.
public func medianMilliseconds(budget: Double = 0.25, minimumRuns: Int = 5, warmup: Int = 2, _ body: () -> Void) -> Double {
  for _ in 0..<warmup { body() }
  var times: [Double] = []
  let start = DispatchTime.now().uptimeNanoseconds
  while times.count < minimumRuns || Double(DispatchTime.now().uptimeNanoseconds - start) < budget * 1e9 {
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    if times.count >= 10_000 { break }
  }
  times.sort()
  return times[times.count / 2]
}

/// Times `steps` calls of `step` (after the caller's warm-up) and returns the median
/// milliseconds and the process's peak resident memory; the tensor allocator's own peaks
/// (reset first) go to standard error. A step's error stops the measurement and is rethrown.
func measureSteps(_ steps: Int, backend: any Backend, _ step: () throws -> Void) throws -> (medianMilliseconds: Double, peakBytes: Int, peakTensorBytes: Int) {
  backend.memory.resetPeaks()
  var times: [Double] = []
  for _ in 0..<steps {
    var failure: (any Error)?
    times.append(medianMilliseconds(budget: 0, minimumRuns: 1, warmup: 0) {
      do { try step() } catch { failure = error }
    })
    if let failure { throw failure }
  }
  times.sort()
  let memory = backend.memory.statistics
  FileHandle.standardError.write(Data("# tensor memory: peak live \(memory.peakLive >> 20) MiB, peak held \(memory.peakHeld >> 20) MiB, process peak RSS \((ProcessMemory.peakResidentBytes() ?? 0) >> 20) MiB\n".utf8))
  return (times[times.count / 2], ProcessMemory.peakResidentBytes() ?? memory.peakHeld, memory.peakHeld)
}
