import Datasets
import Foundation
import Runs
import Search
import SearchSpace
import XCTest

/// What each method's strategy answers for the search loop (SPEC §2, §4, §5).
final class SearchStrategyTests: XCTestCase {
  func testDARTSAndPCDARTSAreOneStageOverEveryOperation() throws {
    for method in [SearchSettings.Method.darts, .pcDarts] {
      let settings = SearchSettings.reference(for: method)
      let strategy = settings.strategy
      XCTAssertEqual(strategy.stageCount, 1, "\(method)")
      XCTAssertEqual(strategy.architectureOrder, .freshRandom, "\(method)")
      XCTAssertNil(strategy.architectureGradientClip, "\(method)")
      XCTAssertNil(strategy.skipDropoutRate(stage: 0, epoch: 0), "\(method)")
      XCTAssertEqual(strategy.progressLabel(stage: 0), "")
      XCTAssertEqual(strategy.eventFields(stage: 0), [:])
      let base = settings.networkConfiguration(inputChannels: 3, classes: 10)
      XCTAssertNil(strategy.initialStages(all: base))
      let (network, seed) = strategy.network(base, stages: nil)
      XCTAssertEqual(network, base)
      XCTAssertEqual(seed, settings.seed)
      XCTAssertEqual(strategy.memoryConfigurations(base), [base])
      // PC-DARTS: α frozen for 15 epochs, the last epoch validated (SPEC §5.4).
      let warmup = settings.architectureWarmupEpochs
      XCTAssertEqual(warmup, method == .pcDarts ? 15 : 0)
      XCTAssertFalse(warmup > 0 && strategy.updatesArchitecture(epoch: warmup - 1))
      XCTAssertTrue(strategy.updatesArchitecture(epoch: warmup))
      XCTAssertEqual((0..<settings.epochs).filter(strategy.validates), method == .pcDarts ? [settings.epochs - 1] : Array(0..<settings.epochs))
    }
    var clipped = SearchSettings.imageNet()
    XCTAssertEqual(clipped.strategy.architectureGradientClip, 5)
    clipped.architectureGradientClip = 2
    XCTAssertEqual(clipped.strategy.architectureGradientClip, 2)
  }

  func testPDARTSStagesGrowTheNetworkAndDropOperations() throws {
    var settings = SearchSettings.reference(for: .pDarts)
    let strategy = settings.strategy
    XCTAssertEqual(strategy.stageCount, 3)
    XCTAssertEqual(strategy.architectureOrder, .epochPermutation)
    XCTAssertEqual(strategy.architectureGradientClip, 5)
    XCTAssertEqual(strategy.progressLabel(stage: 1), "stage 2/3 ")
    XCTAssertEqual(strategy.supernetName(stage: 2), "stage 3's supernet")
    // Skip dropout: the stage's initial rate, linearly lower in the 10 warm-up epochs, then
    // decayed exponentially.
    XCTAssertEqual(try XCTUnwrap(strategy.skipDropoutRate(stage: 1, epoch: 0)), 0.4 * 24 / 25, accuracy: 1e-12)
    XCTAssertEqual(try XCTUnwrap(strategy.skipDropoutRate(stage: 1, epoch: 24)), 0.4 * exp(-Double(24 - 10) * 0.2), accuracy: 1e-9)
    XCTAssertEqual((0..<settings.epochs).filter(strategy.validates), Array(20..<25))
    XCTAssertFalse(strategy.updatesArchitecture(epoch: 9))
    XCTAssertTrue(strategy.updatesArchitecture(epoch: 10))

    let base = settings.networkConfiguration(inputChannels: 3, classes: 10)
    let stages = try XCTUnwrap(strategy.initialStages(all: base))
    XCTAssertEqual(stages.stage, 0)
    XCTAssertEqual(stages.normalOperations, base.normalOperations)
    XCTAssertNil(strategy.stagesProblem(stages, position: BatchPosition(epoch: 3, step: 0), topology: base.topology))
    XCTAssertEqual(
      strategy.stagesProblem(stages, position: BatchPosition(epoch: 30, step: 0), topology: base.topology),
      "P-DARTS stage 0 does not own the resume position's epoch 30")
    XCTAssertEqual(strategy.stagesProblem(nil, position: BatchPosition(epoch: 0, step: 0), topology: base.topology), "the checkpoint has no P-DARTS stage")
    XCTAssertEqual(
      SearchSettings.reference(for: .darts).strategy.stagesProblem(stages, position: BatchPosition(epoch: 0, step: 0), topology: base.topology),
      "the checkpoint has P-DARTS stages but the run is not P-DARTS")
    let (first, firstSeed) = strategy.network(base, stages: stages)
    XCTAssertEqual(first.layers, 5)
    XCTAssertEqual(firstSeed, settings.seed)
    XCTAssertFalse(first.skipDropout, "stage 1's rate is 0")
    // The memory estimate counts stage 2 with 11 cells and the 5 cheapest operations per edge.
    let memory = strategy.memoryConfigurations(base)
    XCTAssertEqual(memory.map(\.layers), [5, 11, 17])
    XCTAssertEqual(memory.map { $0.normalOperations[0].count }, [8, 5, 3])

    settings.progressive?.skipDropout = [0.1, 0.4, 0.7]
    XCTAssertTrue(settings.strategy.network(base, stages: stages).configuration.skipDropout)
  }

  /// Each method's reference settings come from its strategy: DARTS the defaults (SPEC §2.2),
  /// PC-DARTS `train_search.py` (§5.4), P-DARTS its README flags (§4.7).
  func testEachStrategySetsItsMethodsReferenceSettings() {
    XCTAssert(SearchSettings.Method.darts.strategy == DARTSStrategy.self)
    XCTAssert(SearchSettings.Method.pcDarts.strategy == PCDARTSStrategy.self)
    XCTAssert(SearchSettings.Method.pDarts.strategy == PDARTSStrategy.self)
    var darts = SearchSettings()
    darts.method = .darts
    XCTAssertEqual(SearchSettings.reference(for: .darts), darts)
    let pc = SearchSettings.reference(for: .pcDarts)
    XCTAssertEqual(pc.method, .pcDarts)
    XCTAssertEqual([pc.batchSize, pc.architectureWarmupEpochs, pc.partialChannels, pc.validationEpochs], [256, 15, 4, 1])
    XCTAssertEqual([pc.learningRate, pc.learningRateMin, pc.architectureLearningRate], [0.1, 0, 6e-4])
    XCTAssertTrue(pc.edgeNormalization)
    let p = SearchSettings.reference(for: .pDarts)
    XCTAssertEqual([p.batchSize, p.epochs, p.architectureWarmupEpochs, p.layers, p.validationEpochs], [96, 25, 10, 5, 5])
    XCTAssertEqual([p.learningRateMin, p.architectureLearningRate], [0, 6e-4])
    XCTAssertEqual(p.progressive, ProgressiveSettings())
    let pcDemo = SearchSettings.demo(for: .pcDarts), pDemo = SearchSettings.demo(for: .pDarts)
    XCTAssertEqual([pcDemo.batchSize, pDemo.layers, pDemo.epochs, pDemo.architectureWarmupEpochs], [64, 3, 4, 1])
    XCTAssertEqual(pcDemo.learningRate, 0.1)
    XCTAssertEqual(pDemo.progressive?.addLayers, [2, 4])
  }

  /// Every registered method is named by its strategy and read back from that name, by
  /// `--method` (``SearchSettings/Method/init(rawValue:)``) and from `config.json` (Codable),
  /// with the names of existing `config.json` files; an unknown name is refused.
  func testEveryRegisteredMethodRoundTripsItsName() throws {
    let methods = SearchSettings.Method.allCases
    XCTAssertEqual(Set(methods.map(\.rawValue)).count, methods.count, "names are distinct")
    XCTAssertEqual(methods.map(\.displayName), methods.map { $0.strategy.displayName })
    for method in methods {
      XCTAssertEqual(method.rawValue, method.strategy.name)
      let parsed = try XCTUnwrap(SearchSettings.Method(rawValue: method.rawValue), method.rawValue)
      XCTAssertEqual(parsed, method)
      XCTAssert(parsed.strategy == method.strategy, method.rawValue)
      let encoded = try JSONEncoder().encode(method)
      XCTAssertEqual(String(decoding: encoded, as: UTF8.self), "\"\(method.rawValue)\"")
      XCTAssertEqual(try JSONDecoder().decode(SearchSettings.Method.self, from: encoded), method)
      let settings = SearchSettings.reference(for: method)
      let config = try JSONEncoder().encode(settings)
      let object = try XCTUnwrap(JSONSerialization.jsonObject(with: config) as? [String: Any])
      XCTAssertEqual(object["method"] as? String, method.rawValue)
      let decoded = try JSONDecoder().decode(SearchSettings.self, from: config)
      XCTAssertEqual(decoded, settings)
      XCTAssert(type(of: decoded.strategy) == method.strategy, method.rawValue)
    }
    let existing: [(String, any SearchStrategy.Type)] = [("darts", DARTSStrategy.self), ("pc-darts", PCDARTSStrategy.self), ("p-darts", PDARTSStrategy.self)]
    for (name, strategy) in existing {
      let decoded = try JSONDecoder().decode(SearchSettings.Method.self, from: Data("\"\(name)\"".utf8))
      XCTAssert(decoded.strategy == strategy, name)
    }
    XCTAssertNil(SearchSettings.Method(rawValue: "pdarts"))
    XCTAssertThrowsError(try JSONDecoder().decode(SearchSettings.Method.self, from: Data(#""pdarts""#.utf8)))
    XCTAssertEqual(["a", "b", "c"].listed(), "a, b or c")
    XCTAssertEqual(["a", "b"].listed("and"), "a and b")
    XCTAssertEqual(["a"].listed(), "a")
  }
}
