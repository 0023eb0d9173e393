import NN
import Search
import TensorCore
import _TestSupport

/// A tiny supernet (C = 4, 3 cells of 2 nodes, every DARTS operation, 5 classes) with its
/// optimisers, for tests that compare search variants with DARTS bit for bit.
struct TinySearch {
  let backend: any Backend
  var regularization: ArchitectureRegularization?
  var perturbation: WeightStepPerturbation?

  /// A fresh network (seed 21) and optimisers.
  func make() -> (SearchNetwork, SearchOptimization) {
    var factory = ParameterFactory(backend: backend, seed: 21)
    let network = SearchNetwork(SearchNetworkConfiguration(channels: 4, layers: 3, steps: 2, classes: 5), using: &factory)
    let optimization = SearchOptimization(
      weights: SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 3e-4),
      architecture: Adam(learningRate: 3e-3, beta1: 0.5, beta2: 0.999, weightDecay: 1e-3),
      architect: Architect(order: .first), regularization: regularization, perturbation: perturbation)
    return (network, optimization)
  }

  /// A batch of two random 8×8 images, 3 channels.
  func batch(_ generator: inout SeededGenerator) -> LabelledBatch {
    let b = randomBatch(count: 2, channels: 3, size: 8, classes: 5, generator: &generator, on: backend)
    return LabelledBatch(images: b.images, labels: b.labels)
  }

  /// Runs `steps` search iterations on fixed random batches (the perturbation's noise keyed
  /// by the step); returns every tensor afterwards: the state dict, Adam's moments and SGD's
  /// momentum buffers.
  func run(steps: Int = 3) throws -> [String: [Float]] {
    let (network, optimization) = make()
    var optimizer = optimization
    var data = SeededGenerator(seed: 13)
    for step in 0..<steps {
      let (train, valid) = (batch(&data), batch(&data))
      _ = try optimizer.step(
        network: network, train: train, valid: valid, updateArchitecture: true,
        perturbationGenerator: SeededGenerator(seed: UInt64(100 + step)))
    }
    var tensors = network.stateDict().mapValues(\.scalars)
    for (name, m) in optimizer.architecture.firstMoments { tensors["adam.m.\(name)"] = m.scalars }
    for (name, v) in optimizer.architecture.secondMoments { tensors["adam.v.\(name)"] = v.scalars }
    for (name, b) in optimizer.weights.momentumBuffers { tensors["momentum.\(name)"] = b.scalars }
    return tensors
  }
}
