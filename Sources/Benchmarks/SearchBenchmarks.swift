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
    return try measureSteps(steps, backend: backend) {
      _ = try optimization.step(network: network, train: train, valid: valid, updateArchitecture: true)
    }
  }
}
