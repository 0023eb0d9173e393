import Search
import XCTest

/// The PC-DARTS ImageNet setting (SPEC §5.5) and its learning-rate schedule.
final class SearchSettingsTests: XCTestCase {
  func testImageNetPreset() {
    let s = SearchSettings.imageNet()
    XCTAssertEqual(s.method, .pcDarts)
    XCTAssertEqual(s.dataset, .imageFolder)
    XCTAssertEqual(s.stem, .imageNet)
    XCTAssertEqual(s.partialChannels, 2)
    XCTAssertTrue(s.edgeNormalization)
    XCTAssertEqual(s.epochs, 50)
    XCTAssertEqual(s.architectureWarmupEpochs, 35)
    XCTAssertEqual(s.batchSize, 1024)
    XCTAssertEqual(s.learningRate, 0.5)
    XCTAssertEqual(s.learningRateMin, 0)
    XCTAssertEqual(s.weightDecay, 3e-4)
    XCTAssertEqual(s.architectureLearningRate, 6e-3)
    XCTAssertEqual(s.architectureGradientClip, 5)
    XCTAssertEqual(s.weightFraction, 0.1)
    XCTAssertEqual(s.architectureFraction, 0.025)
    XCTAssertEqual(s.imageSize, 224)
    XCTAssertEqual(s.channels, 16)
    XCTAssertEqual(s.layers, 8)
    let configuration = s.networkConfiguration(inputChannels: 3, classes: 1000)
    XCTAssertEqual(configuration.stem, .imageNet)
    XCTAssertEqual(configuration.partialChannels, 2)
  }

  /// Warm-up `0.5·(e+1)/5` in epochs 0–4 with batch > 256, then the cosine schedule; no
  /// warm-up at batch 256.
  func testLearningRateWarmUp() {
    var s = SearchSettings.imageNet()
    for e in 0..<5 { XCTAssertEqual(s.learningRate(epoch: e), 0.5 * Double(e + 1) / 5, accuracy: 1e-15) }
    XCTAssertEqual(s.learningRate(epoch: 5), 0.25 * (1 + cos(Double.pi * 5 / 50)), accuracy: 1e-15)
    XCTAssertEqual(s.learningRate(epoch: 49), 0.25 * (1 + cos(Double.pi * 49 / 50)), accuracy: 1e-15)
    s.batchSize = 256
    XCTAssertEqual(s.learningRate(epoch: 0), 0.5)
    XCTAssertEqual(s.learningRate(epoch: 3), 0.25 * (1 + cos(Double.pi * 3 / 50)), accuracy: 1e-15)
    s.batchSize = 512
    s.learningRateWarmupEpochs = 2
    XCTAssertEqual(s.learningRate(epoch: 1), 0.5)
    XCTAssertEqual(s.learningRate(epoch: 2), 0.25 * (1 + cos(Double.pi * 2 / 50)), accuracy: 1e-15)
  }

  func testImageFolderValidation() {
    var s = SearchSettings.imageNet()
    XCTAssertEqual(s.validationProblem(), "--dataset image-folder needs --data DIR (DIR/<class>/<image> or DIR/train/<class>/<image>)")
    s.dataDirectory = "/data"
    XCTAssertNil(s.validationProblem())
    s.architectureFraction = 0.95
    XCTAssertNotNil(s.validationProblem())
    s.architectureFraction = 0.025
    s.limit = 100
    XCTAssertNotNil(s.validationProblem())
    s.limit = nil
    s.imageSize = 48  // the ImageNet stem and two reductions need a multiple of 32
    XCTAssertEqual(s.validationProblem(), "--image-size 48 must be a multiple of 32 for this network (its reductions halve even sizes only)")
    s.stem = .cifar
    XCTAssertNil(s.validationProblem())
    s.imageSize = 30
    XCTAssertNotNil(s.validationProblem())
  }

  /// Every real-valued setting must be finite (`--learning-rate nan` parses as a Double) and
  /// in its range; a NaN used to pass every check written as a rejection.
  func testNonFiniteAndOutOfRangeRealSettingsAreRejected() {
    XCTAssertNil(SearchSettings().validationProblem())
    let fields: [(WritableKeyPath<SearchSettings, Double>, String)] = [
      (\.trainPortion, "--train-portion"), (\.learningRate, "--learning-rate"), (\.learningRateMin, "--learning-rate-min"),
      (\.momentum, "--momentum"), (\.weightDecay, "--weight-decay"), (\.gradientClip, "--grad-clip"),
      (\.architectureLearningRate, "--arch-learning-rate"), (\.architectureWeightDecay, "--arch-weight-decay"),
      (\.weightFraction, "--weight-fraction"), (\.architectureFraction, "--arch-fraction"),
    ]
    for (field, flag) in fields {
      for bad in [Double.nan, .infinity, -.infinity] {
        var s = SearchSettings()
        s[keyPath: field] = bad
        XCTAssertEqual(s.validationProblem(), "\(flag) must be finite, got \(bad)")
      }
    }
    var s = SearchSettings()
    s.architectureGradientClip = .nan
    XCTAssertEqual(s.validationProblem(), "--arch-grad-clip must be finite, got nan")
    s = SearchSettings.reference(for: .pDarts)
    s.progressive?.skipDropout = [0, .nan, 0.7]
    XCTAssertEqual(s.validationProblem(), "--skip-dropout rates must be in [0, 1)")
    let ranges: [(WritableKeyPath<SearchSettings, Double>, Double, String)] = [
      (\.learningRateMin, -1e-3, "--learning-rate-min must not be negative"), (\.momentum, 1, "--momentum must be in [0, 1)"),
      (\.momentum, -0.1, "--momentum must be in [0, 1)"),
      (\.weightDecay, -1e-4, "--weight-decay and --arch-weight-decay must not be negative"),
      (\.architectureWeightDecay, -1e-4, "--weight-decay and --arch-weight-decay must not be negative"),
      (\.gradientClip, 0, "--grad-clip must be positive"), (\.learningRate, 0, "learning rates must be positive"),
    ]
    for (field, value, problem) in ranges {
      var s = SearchSettings()
      s[keyPath: field] = value
      XCTAssertEqual(s.validationProblem(), problem, "\(value)")
    }
    for method in SearchSettings.Method.allCases {
      XCTAssertNil(SearchSettings.reference(for: method).validationProblem(), method.rawValue)
      XCTAssertNil(SearchSettings.demo(for: method).validationProblem(), method.rawValue)
    }
  }
}
