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
}
