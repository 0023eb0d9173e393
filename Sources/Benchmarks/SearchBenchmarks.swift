import DataParallel
import Foundation
import Runs
import NN
import Search
import SearchSpace
import TensorCore

/// One search step on random data (3×32×32, 10 classes), for `darts bench search`: DARTS at
/// the reference setting (SPEC §2.2: batch 64, C = 16, 8 cells), PC-DARTS (K = 4 with edge
/// normalisation, SGD 0.1, Adam 6e-4) or one P-DARTS stage (`progressiveStage`).
public struct SearchStepBenchmark {
  public var configuration: SearchNetworkConfiguration
  public var order: Architect.Order
  public var batch: Int
  public var threads: Int
  /// The backend the steps run on.
  public var backend: BackendKind = .cpu
  public var steps: Int
  public var learningRate: Float = 0.025
  public var architectureLearningRate = 3e-4
  /// P-DARTS clips the α gradients to 5.
  public var architectureGradientClip: Float?
  /// The skip-connect dropout rate (with `configuration.skipDropout`).
  public var skipDropoutRate: Float = 0
  /// The pass timed: the full step, the weight step alone or an evaluation forward pass.
  public var pass = BenchmarkedPass.step
  /// The processes sharing every batch (`mpirun`): each computes `batch / processes` images
  /// and the gradients are averaged, as in a data-parallel search.
  public var parallelism = BatchParallelism.single()

  public init(configuration: SearchNetworkConfiguration, order: Architect.Order, batch: Int, threads: Int, steps: Int) {
    self.configuration = configuration
    self.order = order
    self.batch = batch
    self.threads = threads
    self.steps = steps
  }

  /// PC-DARTS at the CIFAR setting of SPEC §5.4 (K partial channels, edge normalisation).
  public static func partialChannel(partialChannels: Int = 4, batch: Int, threads: Int, steps: Int) -> SearchStepBenchmark {
    var b = SearchStepBenchmark(
      configuration: SearchNetworkConfiguration(partialChannels: partialChannels, edgeNormalization: true),
      order: .first, batch: batch, threads: threads, steps: steps)
    b.learningRate = 0.1
    b.architectureLearningRate = 6e-4
    return b
  }

  /// P-DARTS stage `stage` (1…3) at the CIFAR setting of SPEC §4.1: 5, 11, 17 cells; 8, 5, 3
  /// operations per edge (stages 2 and 3: `cyclicOperations`); skip dropout 0.1, 0.4, 0.7 (the
  /// README rates, so that every stage has the dropout layers); α clipped to 5.
  public static func progressiveStage(_ stage: Int, batch: Int, threads: Int, steps: Int) -> SearchStepBenchmark {
    precondition((1...3).contains(stage), "stage \(stage)")
    var configuration = SearchNetworkConfiguration(layers: [5, 11, 17][stage - 1], skipDropout: true)
    if stage > 1 {
      let kept = stage == 2 ? 5 : 3
      configuration.normalOperations = cyclicOperations(kept: kept, edges: configuration.topology.edgeCount, offset: 0)
      configuration.reduceOperations = cyclicOperations(kept: kept, edges: configuration.topology.edgeCount, offset: 4)
    }
    var b = SearchStepBenchmark(configuration: configuration, order: .first, batch: batch, threads: threads, steps: steps)
    b.architectureLearningRate = 6e-4
    b.architectureGradientClip = 5
    b.skipDropoutRate = [0.1, 0.4, 0.7][stage - 1]
    return b
  }

  /// Fixed operation subsets standing in for a search's: edge `e` keeps the primitives
  /// `(e + offset + j) mod 8`, `j < kept`, in primitive order (as `pdarts_switches(rule="cyclic")`
  /// of Scripts/reference/darts_reference.py, so that both engines time the same networks).
  public static func cyclicOperations(kept: Int, edges: Int, offset: Int) -> [[Primitive]] {
    let all = Primitive.searchSpace
    return (0..<edges).map { e in (0..<kept).map { (e + offset + $0) % all.count }.sorted().map { all[$0] } }
  }

  /// What one timed run measured.
  public struct Result {
    /// Median milliseconds per step (after one warm-up step).
    public var medianMilliseconds: Double
    /// The process's peak resident memory and the tensor allocator's peak (its own figures go
    /// to standard error).
    public var peakBytes: Int
    public var peakTensorBytes: Int
    /// The network's weight count (α and β excluded, as in SPEC §1.6).
    public var parameters: Int
    /// Per timed step: bytes this process passed to all-reduce calls, and seconds spent in
    /// collectives (waiting for the slowest process included). Zero for one process.
    public var reducedBytesPerStep: Double
    public var collectiveSecondsPerStep: Double
  }

  /// Times `steps` steps after a warm-up step.
  public func run() throws -> Result {
    let prepared = try prepare(on: backend.make(threads: threads))
    let before = parallelism.group.traffic
    let measured = try measureSteps(steps, backend: prepared.backend, prepared.step)
    let after = parallelism.group.traffic
    return Result(
      medianMilliseconds: measured.medianMilliseconds, peakBytes: measured.peakBytes, peakTensorBytes: measured.peakTensorBytes,
      parameters: prepared.parameters, reducedBytesPerStep: Double(after.reducedBytes - before.reducedBytes) / Double(steps),
      collectiveSecondsPerStep: (after.seconds - before.seconds) / Double(steps))
  }

  /// `first` and `second` timed side by side in one process: both are built and warmed up,
  /// then their steps alternate (`first`, `second`, `first`, …, `steps` of each), so that a
  /// change in the machine's speed during the run reaches both alike. Returns each one's median
  /// milliseconds and its own tensor-allocator peak after the warm-up (each has its backend;
  /// the process's peak RSS covers both and is not split).
  public static func sideBySide(
    _ first: SearchStepBenchmark, _ second: SearchStepBenchmark
  ) throws -> [(medianMilliseconds: Double, peakTensorBytes: Int, parameters: Int)] {
    let prepared = try [first, second].map { try $0.prepare(on: $0.backend.make(threads: $0.threads)) }
    for p in prepared { p.backend.memory.resetPeaks() }
    let counts = [first.steps, second.steps]
    var times: [[Double]] = [[], []]
    for _ in 0..<counts.max()! {
      for (i, p) in prepared.enumerated() where times[i].count < counts[i] {
        let start = DispatchTime.now().uptimeNanoseconds
        try p.step()
        times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
      }
    }
    return prepared.indices.map { i in
      (times[i].sorted()[times[i].count / 2], prepared[i].backend.memory.statistics.peakHeld, prepared[i].parameters)
    }
  }

  /// The same steps (after a warm-up step) on a `ProfilingBackend` wrapping the backend:
  /// where a step's time goes.
  public func profile() throws -> StepProfile {
    let backend = ProfilingBackend(wrapping: backend.make(threads: threads))
    return try StepProfile.measure(steps, on: backend, prepare(on: backend).step)
  }

  /// The network and optimisers built on `backend` and one step (or forward pass) of `pass`
  /// taken, the warm-up: `step` runs the next.
  private func prepare(on backend: any Backend) throws -> (backend: any Backend, step: () throws -> Void, parameters: Int) {
    var factory = ParameterFactory(backend: backend, seed: 2)
    let network = SearchNetwork(configuration, using: &factory)
    for module in network.modules() { (module as? Dropout)?.probability = skipDropoutRate }
    var optimization = SearchOptimization(
      weights: SGD(learningRate: learningRate, momentum: 0.9, weightDecay: 3e-4),
      architecture: Adam(learningRate: architectureLearningRate, beta1: 0.5, beta2: 0.999, weightDecay: 1e-3),
      architect: Architect(order: order), architectureGradientClip: architectureGradientClip)
    var generator = SeededGenerator(seed: 1 + UInt64(parallelism.group.rank))
    let rows = parallelism.shard.rows(batchCount: batch).count  // this process's share
    func batchOf() -> LabelledBatch {
      LabelledBatch(
        images: Tensor.randomNormal([rows, configuration.inputChannels, 32, 32], generator: &generator, on: backend),
        labels: (0..<rows).map { _ in Int(generator.next() % UInt64(configuration.classes)) }, globalCount: batch)
    }
    let (train, valid) = (batchOf(), batchOf())
    let (parallelism, updateArchitecture) = (parallelism, pass == .step)
    let step: () throws -> Void
    if pass == .evaluation {
      network.eval()
      step = { withoutGradients { _ = network(train.images) } }
    } else {
      step = {
        _ = try optimization.step(network: network, train: train, valid: valid, updateArchitecture: updateArchitecture, parallelism: parallelism)
      }
    }
    try step()
    return (backend, step, network.parameterCount(.weight))
  }
}
