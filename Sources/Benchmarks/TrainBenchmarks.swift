import Evaluation
import Foundation
import NN
import Runs
import SearchSpace
import TensorCore

/// One evaluation training step (SPEC §6.1) of a genotype's network with the auxiliary head
/// and drop path on random 3×32×32 data, for `darts bench train`; the default is the reference
/// setting (DARTS_V2, C = 36, 20 cells, batch 96, drop path 0.1 = 0.2 at mid-training),
/// the same step as `darts_reference.py bench --what train`.
public struct TrainStepBenchmark {
  public var genotype: Genotype
  public var channels: Int
  public var layers: Int
  public var batch: Int
  public var threads: Int
  /// The backend the steps run on.
  public var backend: BackendKind = .cpu
  public var steps: Int
  public var dropPath: Float
  /// The pass timed: the training step or an evaluation forward pass. A training step has no
  /// architecture step, so `.weightsOnly` times the training step (`darts bench train` refuses
  /// it rather than print a misleading label).
  public var pass = BenchmarkedPass.step

  public init(genotype: Genotype = .dartsV2, channels: Int = 36, layers: Int = 20, batch: Int = 96, threads: Int, steps: Int, dropPath: Float = 0.1) {
    self.genotype = genotype
    self.channels = channels
    self.layers = layers
    self.batch = batch
    self.threads = threads
    self.steps = steps
    self.dropPath = dropPath
  }

  /// Median milliseconds per step (after one warm-up step) and the process's peak resident
  /// memory (the tensor allocator's own figures go to standard error).
  public func run() throws -> (medianMilliseconds: Double, peakBytes: Int, peakTensorBytes: Int) {
    let backend = backend.make(threads: threads)
    return try measureSteps(steps, backend: backend, prepare(on: backend))
  }

  /// The same steps on a `ProfilingBackend` wrapping the backend: where a step's time goes.
  public func profile() throws -> StepProfile {
    let backend = ProfilingBackend(wrapping: backend.make(threads: threads))
    return try StepProfile.measure(steps, on: backend, prepare(on: backend))
  }

  /// The network and optimiser built on `backend` and one step (or forward pass) taken, the
  /// warm-up: the closure runs the next.
  private func prepare(on backend: any Backend) throws -> () throws -> Void {
    var factory = ParameterFactory(backend: backend, seed: 0)
    let network = NetworkDescription(
      genotype: genotype, channels: channels, layers: layers, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: true
    ).build(using: &factory)
    var step = TrainingStep(optimizer: SGD(learningRate: 0.025, momentum: 0.9, weightDecay: 3e-4))
    var generator = SeededGenerator(seed: 1)
    let images = Tensor.randomNormal([batch, 3, 32, 32], generator: &generator, on: backend)
    let labels = (0..<batch).map { _ in Int(generator.next() % 10) }
    let dropPath = dropPath
    if pass == .evaluation {
      network.eval()
      let forward = { withoutGradients { _ = network(images, generator: &generator) } }
      forward()
      return forward
    }
    _ = try step(network, images: images, labels: labels, dropPath: dropPath, generator: &generator)
    return { _ = try step(network, images: images, labels: labels, dropPath: dropPath, generator: &generator) }
  }
}
