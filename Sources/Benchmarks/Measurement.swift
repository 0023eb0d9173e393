import Foundation

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
