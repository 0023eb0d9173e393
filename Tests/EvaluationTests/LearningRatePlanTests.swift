import Datasets
import Evaluation
import XCTest

/// The schedules of SPEC §6.1 / §6.2 as pure functions of the epoch, and the presets.
final class LearningRatePlanTests: XCTestCase {
  func testLinearScheduleReproducesTheWorkedExample() {
    let plan = LearningRatePlan(schedule: .linear, initial: 0.5, epochs: 250)
    XCTAssertEqual(plan.learningRate(epoch: 0), 0.5, accuracy: 1e-12)
    XCTAssertEqual(plan.learningRate(epoch: 1), 0.49796, accuracy: 5e-6)
    XCTAssertEqual(plan.learningRate(epoch: 244), 0.00204, accuracy: 5e-6)
    XCTAssertEqual(plan.learningRate(epoch: 245), 0.00204, accuracy: 5e-6)
    XCTAssertEqual(plan.learningRate(epoch: 244), 0.5 / 245, accuracy: 1e-12)
    XCTAssertEqual(plan.learningRate(epoch: 245), 0.5 * 5 / 1225, accuracy: 1e-12)
    XCTAssertEqual(plan.learningRate(epoch: 249), 0.000408, accuracy: 5e-7)
    for e in 1..<250 { XCTAssertLessThanOrEqual(plan.learningRate(epoch: e), plan.learningRate(epoch: e - 1)) }
    XCTAssertGreaterThan(plan.learningRate(epoch: 249), 0)
  }

  func testStepAndCosineSchedules() {
    let step = LearningRatePlan(schedule: .step, initial: 0.1, gamma: 0.97, epochs: 250)
    XCTAssertEqual(step.learningRate(epoch: 0), 0.1, accuracy: 1e-12)
    XCTAssertEqual(step.learningRate(epoch: 2), 0.1 * 0.97 * 0.97, accuracy: 1e-12)
    let cosine = LearningRatePlan(schedule: .cosine, initial: 0.025, minimum: 0, epochs: 600)
    XCTAssertEqual(cosine.learningRate(epoch: 0), 0.025, accuracy: 1e-12)
    XCTAssertEqual(cosine.learningRate(epoch: 300), 0.0125, accuracy: 1e-12)
    XCTAssertEqual(cosine.learningRate(epoch: 599), 0.025 * 0.5 * (1 + cos(Double.pi * 599 / 600)), accuracy: 1e-15)
  }

  func testWarmupScalesTheScheduleOrTheInitialRate() {
    let pdarts = LearningRatePlan(schedule: .linear, initial: 0.5, epochs: 250, warmupEpochs: 5, warmup: .schedule)
    XCTAssertEqual(pdarts.learningRate(epoch: 0), 0.5 * 1 / 5, accuracy: 1e-12)
    XCTAssertEqual(pdarts.learningRate(epoch: 3), 0.5 * 242 / 245 * 4 / 5, accuracy: 1e-12)
    XCTAssertEqual(pdarts.learningRate(epoch: 5), 0.5 * 240 / 245, accuracy: 1e-12)
    let pcdarts = LearningRatePlan(schedule: .linear, initial: 0.5, epochs: 250, warmupEpochs: 5, warmup: .initial)
    XCTAssertEqual(pcdarts.learningRate(epoch: 3), 0.5 * 4 / 5, accuracy: 1e-12)
    XCTAssertEqual(pcdarts.learningRate(epoch: 4), 0.5, accuracy: 1e-12)
    XCTAssertEqual(pcdarts.learningRate(epoch: 5), 0.5 * 240 / 245, accuracy: 1e-12)
  }

  func testPresetsFollowTheReferenceRecipes() {
    let darts = TrainSettings.preset(.darts)
    XCTAssertEqual([darts.epochs, darts.batchSize, darts.cutout, darts.channels, darts.layers], [600, 96, 16, 36, 20])
    XCTAssertEqual([darts.learningRate, darts.learningRateMin, darts.momentum, darts.weightDecay, darts.dropPath, darts.auxiliaryWeight, darts.gradientClip], [0.025, 0, 0.9, 3e-4, 0.2, 0.4, 5])
    XCTAssertEqual(darts.seed, 0)
    XCTAssertEqual(darts.genotype, .dartsV2)
    XCTAssertEqual(darts.dropPathProbability(epoch: 300), 0.1, accuracy: 1e-12)
    XCTAssertEqual(darts.dropPathProbability(epoch: 0), 0)
    let pdarts = TrainSettings.preset(.pdarts)
    XCTAssertEqual([pdarts.batchSize], [128])
    XCTAssertEqual(pdarts.dropPath, 0.3)
    XCTAssertEqual(pdarts.genotype, .pdarts)
    let pcdarts = TrainSettings.preset(.pcdarts)
    XCTAssertEqual(pcdarts.batchSize, 96)
    XCTAssertEqual(pcdarts.dropPath, 0.3)
    XCTAssertEqual(pcdarts.genotype, .pcDartsCIFAR)

    let imagenet = TrainSettings.preset(.dartsImageNet)
    XCTAssertEqual([imagenet.epochs, imagenet.batchSize, imagenet.warmupEpochs, imagenet.channels, imagenet.layers], [250, 128, 0, 48, 14])
    XCTAssertEqual(imagenet.schedule, .step)
    XCTAssertEqual([imagenet.learningRate, imagenet.weightDecay, imagenet.labelSmoothing, imagenet.dropPath], [0.1, 3e-5, 0.1, 0])
    let pdartsImageNet = TrainSettings.preset(.pdartsImageNet)
    XCTAssertEqual(pdartsImageNet.schedule, .linear)
    XCTAssertEqual(pdartsImageNet.warmupEpochs, 0, "batch 256 is not above 256")
    let pcdartsImageNet = TrainSettings.preset(.pcdartsImageNet)
    XCTAssertEqual([pcdartsImageNet.batchSize, pcdartsImageNet.warmupEpochs], [1024, 5])
    XCTAssertEqual(pcdartsImageNet.warmup, .initial)
    XCTAssertEqual(pcdartsImageNet.learningRatePlan.learningRate(epoch: 249), 0.000408, accuracy: 5e-7)
    // SPEC §6.2: the ImageNet network on an image folder, colour jitter, BN(768) in P-DARTS only.
    for preset in [TrainSettings.Preset.dartsImageNet, .pdartsImageNet, .pcdartsImageNet] {
      let s = TrainSettings.preset(preset)
      XCTAssertEqual(s.dataset, .imageFolder)
      XCTAssertEqual(s.stem, .imageNet)
      XCTAssertEqual(s.inputSize, 224)
      XCTAssertEqual(s.colorJitter, ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.2))
      XCTAssertEqual(s.auxiliaryFeatureNorm, preset == .pdartsImageNet, preset.rawValue)
      XCTAssertEqual(s.imageTransform(training: true).colorJitter, .imageNet)
      XCTAssertEqual(s.imageTransform(training: true).flipProbability, 0.5)
      XCTAssertEqual(s.imageTransform(training: false), .evaluation(size: 224))
      XCTAssertEqual(s.validationProblem(), "--dataset image-folder needs --data DIR (DIR/train/<class>/<image> and DIR/val/<class>/<image>)")
    }
    XCTAssertEqual(TrainSettings.preset(.darts).stem, .cifar)
    XCTAssertTrue(TrainSettings.preset(.darts).auxiliaryFeatureNorm)
    for preset in TrainSettings.Preset.allCases {
      var s = TrainSettings.preset(preset)
      if s.dataset == .imageFolder { s.dataDirectory = "/data/imagenet" }
      XCTAssertNil(s.validationProblem(), preset.rawValue)
    }
  }
}
