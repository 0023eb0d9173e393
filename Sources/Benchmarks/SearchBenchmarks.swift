import Foundation
import Runs
import NN
import Search
import TensorCore

/// One search step at the reference setting (SPEC §2.2: batch 64, C = 16, 8 cells, 3×32×32,
/// 10 classes) on random data, for `darts bench search`.
public struct SearchStepBenchmark {
  public var configuration: SearchNetworkConfiguration
  public var order: Architect.Order
  public var batch: Int
  public var threads: Int
  public var steps: Int

  public init(configuration: SearchNetworkConfiguration, order: Architect.Order, batch: Int, threads: Int, steps: Int) {
    self.configuration = configuration
    self.order = order
    self.batch = batch
    self.threads = threads
    self.steps = steps
  }

  /// Median milliseconds per step (after one warm-up step) and the process's peak resident
  /// memory (the tensor allocator's own figures go to standard error).
  public func run() throws -> (medianMilliseconds: Double, peakBytes: Int) {
    let backend = CPUBackend(threads: threads)
    var factory = ParameterFactory(backend: backend, seed: 2)
    let network = SearchNetwork(configuration, using: &factory)
    var optimization = SearchOptimization(
      weights: SGD(learningRate: 0.025, momentum: 0.9, weightDecay: 3e-4),
      architecture: Adam(learningRate: 3e-4, beta1: 0.5, beta2: 0.999, weightDecay: 1e-3),
      architect: Architect(order: order))
    var generator = SeededGenerator(seed: 1)
    func batchOf() -> LabelledBatch {
      LabelledBatch(
        images: Tensor.randomNormal([batch, configuration.inputChannels, 32, 32], generator: &generator, on: backend),
        labels: (0..<batch).map { _ in Int(generator.next() % UInt64(configuration.classes)) })
    }
    let (train, valid) = (batchOf(), batchOf())
    _ = try optimization.step(network: network, train: train, valid: valid, updateArchitecture: true)
    backend.memory.resetPeaks()
    var times: [Double] = []
    for _ in 0..<steps {
      var failure: (any Error)?
      times.append(medianMilliseconds(budget: 0, minimumRuns: 1, warmup: 0) {
        do { _ = try optimization.step(network: network, train: train, valid: valid, updateArchitecture: true) } catch { failure = error }
      })
      if let failure { throw failure }
    }
    times.sort()
    let memory = backend.memory.statistics
    FileHandle.standardError.write(Data("# tensor memory: peak live \(memory.peakLive >> 20) MiB, peak held \(memory.peakHeld >> 20) MiB, process peak RSS \((ProcessMemory.peakResidentBytes() ?? 0) >> 20) MiB\n".utf8))
    return (times[times.count / 2], ProcessMemory.peakResidentBytes() ?? memory.peakHeld)
  }
}
