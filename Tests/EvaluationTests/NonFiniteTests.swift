import Datasets
import Evaluation
import Foundation
import NN
import Runs
import TensorCore
import XCTest

/// Non-finite weights are refused on load and on save, a non-finite evaluation loss is an
/// error rather than a result, and NaN settings are rejected up front.
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

  /// Every real-valued setting must be finite and in its range.
  func testNonFiniteAndOutOfRangeRealSettingsAreRejected() {
    XCTAssertNil(TrainSettings().validationProblem())
    let fields: [(WritableKeyPath<TrainSettings, Double>, String)] = [
      (\.learningRate, "--learning-rate"), (\.learningRateMin, "--learning-rate-min"), (\.stepGamma, "--step-gamma"),
      (\.momentum, "--momentum"), (\.weightDecay, "--weight-decay"), (\.gradientClip, "--grad-clip"),
      (\.dropPath, "--drop-path"), (\.auxiliaryWeight, "--auxiliary-weight"), (\.labelSmoothing, "--label-smoothing"),
    ]
    for (field, flag) in fields {
      for bad in [Double.nan, .infinity, -.infinity] {
        var s = TrainSettings()
        s[keyPath: field] = bad
        XCTAssertEqual(s.validationProblem(), "\(flag) must be finite, got \(bad)")
      }
    }
    var s = TrainSettings()
    s.trainPortion = .nan
    XCTAssertEqual(s.validationProblem(), "--train-portion must be finite, got nan")
    s = TrainSettings.preset(.pdartsImageNet)
    s.dataDirectory = "/data/imagenet"
    s.colorJitter?.hue = .nan
    XCTAssertEqual(s.validationProblem(), "colorJitter.hue must be finite, got nan")
    s.colorJitter?.hue = 0.7
    XCTAssertEqual(s.validationProblem(), "colorJitter strengths must not be negative and its hue must be at most 0.5")
    let ranges: [(WritableKeyPath<TrainSettings, Double>, Double, String)] = [
      (\.learningRateMin, -1e-3, "--learning-rate-min must not be negative"), (\.stepGamma, 0, "--step-gamma must be positive"),
      (\.momentum, 1, "--momentum must be in [0, 1)"), (\.weightDecay, -1e-5, "--weight-decay must not be negative"),
      (\.gradientClip, -5, "--grad-clip must be positive"), (\.auxiliaryWeight, -0.4, "--auxiliary-weight must not be negative"),
    ]
    for (field, value, problem) in ranges {
      var s = TrainSettings()
      s[keyPath: field] = value
      XCTAssertEqual(s.validationProblem(), problem, "\(value)")
    }
  }
}
