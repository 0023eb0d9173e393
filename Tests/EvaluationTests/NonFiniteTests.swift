import Datasets
import Evaluation
import Foundation
import NN
import Runs
import TensorCore
import XCTest

/// Non-finite weights are refused on load and on save, and a non-finite evaluation loss is an
/// error rather than a result.
final class NonFiniteTests: XCTestCase {
  let backend = CPUBackend(threads: 2)
  let description = NetworkDescription(genotype: .dartsV2, channels: 4, layers: 3, classes: 2, inputChannels: 3, inputSize: 32, auxiliary: false)

  func network() -> EvaluationNetwork {
    var factory = ParameterFactory(backend: backend, seed: 5)
    return description.build(using: &factory)
  }

  func temporaryFile(_ name: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("darts-nonfinite-\(UUID().uuidString)-\(name)")
    addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }

  /// `net` with the classifier weight's second element replaced by `value`.
  func poison(_ net: EvaluationNetwork, with value: Float) throws {
    var scalars = net.classifier.weight.value.scalars
    scalars[1] = value
    try net.update(parameters: ["classifier.weight": Tensor(shape: net.classifier.weight.value.shape, scalars: scalars, on: backend)])
  }

  func testNonFiniteWeightsAreNeitherWrittenNorLoaded() throws {
    for value in [Float.nan, .infinity, -.infinity] {
      let net = network()
      try poison(net, with: value)
      let url = temporaryFile("weights.safetensors")
      XCTAssertThrowsError(try NetworkWeights.write(net, description: description, to: url)) { error in
        XCTAssertEqual("\(error)", "\(url.path): not saved, tensor classifier.weight holds a NaN or an infinity")
      }
      XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
      try Safetensors.write(net.stateDict(), to: url)  // as another program could
      XCTAssertThrowsError(try NetworkWeights.load(try NetworkWeights.read(from: url), into: network())) { error in
        XCTAssertEqual("\(error)", "\(url.path): tensor classifier.weight holds a NaN or an infinity")
      }
    }
  }

  func testANonFiniteEvaluationLossIsAnErrorNotAResult() throws {
    var generator = SeededGenerator(seed: 3)
    let pixels = (0..<(4 * 3 * 32 * 32)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    let dataset = ImageDataset(
      pixels: pixels, labels: [0, 1, 0, 1], channels: 3, height: 32, width: 32, classCount: 2,
      normalization: Normalization(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]))
    let sampler = BatchSampler(dataset: dataset, indices: 0..<4, batchSize: 2, order: .sequential, augmentation: .evaluation, seed: 0)
    let net = network()
    let metrics = try SplitMetrics.evaluate(net, on: sampler, backend: backend)
    XCTAssertTrue(metrics.loss.isFinite)
    XCTAssertEqual(metrics.count, 4)
    try poison(net, with: .nan)
    XCTAssertThrowsError(try SplitMetrics.evaluate(net, on: sampler, backend: backend)) { error in
      XCTAssertEqual("\(error)", "the evaluation loss is nan")
    }
  }
}
