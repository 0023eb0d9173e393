import Foundation
import Search
import SearchSpace
import XCTest

/// The P-DARTS rules (SPEC §4.2–4.6) on constructed weights, and its settings.
final class ProgressiveRulesTests: XCTestCase {
  let topology = CellTopology()

  // MARK: Skip-connect dropout schedule (§4.3)

  func testDropoutScheduleReproducesTheWorkedExample() {
    let rate = { (e: Int) in ProgressiveRules.skipDropoutRate(initial: 0.7, epoch: e, epochs: 25, warmupEpochs: 10) }
    // The example of SPEC §4.3, rounded to three decimals there.
    let example: [(Int, Double)] = [(0, 0.672), (1, 0.644), (9, 0.420), (10, 0.700), (11, 0.573), (12, 0.469), (24, 0.043)]
    for (e, rounded) in example {
      XCTAssertEqual((rate(e) * 1000).rounded() / 1000, rounded, accuracy: 1e-12, "epoch \(e)")
    }
    // The exact values: r·(E − e − 1)/E before epoch 10, r·exp(−0.2·(e − 10)) after.
    for e in 0..<10 { XCTAssertEqual(rate(e), 0.7 * Double(24 - e) / 25, accuracy: 1e-15) }
    XCTAssertEqual(rate(0), 0.672, accuracy: 1e-15)
    XCTAssertEqual(rate(9), 0.42, accuracy: 1e-15)
    XCTAssertEqual(rate(10), 0.7, accuracy: 1e-15)
    XCTAssertEqual(rate(11), 0.573_111_527_154_587, accuracy: 1e-14)  // 0.7·e^−0.2
    XCTAssertEqual(rate(24), 0.042_567_043_837_653, accuracy: 1e-14)  // 0.7·e^−2.8
    XCTAssertEqual(ProgressiveRules.skipDropoutRate(initial: 0, epoch: 12, epochs: 25, warmupEpochs: 10), 0)
  }

  // MARK: Operation dropping (§4.2)

  func testStageDropRanksNoneLikeAnyOperationAndBreaksTiesByPrimitiveOrder() {
    let all = Primitive.searchSpace
    // none, max, avg, skip, sep3, sep5, dil3, dil5: the three 0.05 go (none among them).
    XCTAssertEqual(
      ProgressiveRules.drop(3, from: all, weights: [0.05, 0.2, 0.1, 0.15, 0.3, 0.05, 0.1, 0.05], forceNone: false),
      [.maxPool3x3, .avgPool3x3, .skipConnect, .sepConv3x3, .dilConv3x3])
    // A strong none survives a stage drop.
    XCTAssertEqual(
      ProgressiveRules.drop(3, from: all, weights: [0.4, 0.05, 0.06, 0.07, 0.1, 0.12, 0.1, 0.1], forceNone: false),
      [.none, .sepConv3x3, .sepConv5x5, .dilConv3x3, .dilConv5x5])
    // Equal weights: the first ones go.
    XCTAssertEqual(
      ProgressiveRules.drop(2, from: [.none, .avgPool3x3, .skipConnect, .sepConv3x3, .dilConv5x5], weights: Array(repeating: 0.2, count: 5), forceNone: false),
      [.skipConnect, .sepConv3x3, .dilConv5x5])
    // Per edge, for a whole cell.
    let cell = ProgressiveRules.drop(
      1, from: [[.none, .skipConnect], [.maxPool3x3, .sepConv3x3]], weights: [[0.6, 0.4], [0.3, 0.7]], lastStage: false)
    XCTAssertEqual(cell, [[.none], [.sepConv3x3]])
  }

  func testLastDropForcesNoneOutThenTheLowest() {
    XCTAssertEqual(ProgressiveRules.drop(2, from: [.none, .skipConnect, .sepConv3x3], weights: [0.9, 0.04, 0.06], forceNone: true), [.sepConv3x3])
    XCTAssertEqual(ProgressiveRules.drop(2, from: [.none, .skipConnect, .sepConv3x3], weights: [0.9, 0.06, 0.04], forceNone: true), [.skipConnect])
    // Without none: the two lowest.
    XCTAssertEqual(ProgressiveRules.drop(2, from: [.maxPool3x3, .skipConnect, .sepConv3x3], weights: [0.5, 0.2, 0.3], forceNone: true), [.maxPool3x3])
    // forceNone only matters when none is on.
    XCTAssertEqual(ProgressiveRules.drop(2, from: [.avgPool3x3, .sepConv5x5, .dilConv3x3], weights: [0.2, 0.2, 0.6], forceNone: true), [.dilConv3x3])
  }

  // MARK: Final extraction (§4.5) and skip cap (§4.6)

  /// Stage-3 operations and weights of a cell: `[edge] = (three ops, three weights)`; edges not
  /// given hold sep3/sep5/dil3 with the weight of sep3 rising with the edge index.
  func stage3(_ given: [Int: ([Primitive], [Float])]) -> (operations: [[Primitive]], weights: [[Float]]) {
    var operations: [[Primitive]] = []
    var weights: [[Float]] = []
    for edge in 0..<14 {
      let (o, w) = given[edge] ?? ([.sepConv3x3, .sepConv5x5, .dilConv3x3], [0.3 + 0.01 * Float(edge), 0.2, 0.1])
      operations.append(o)
      weights.append(w)
    }
    return (operations, weights)
  }

  func testFinalExtractionKeepsNodeTwoZeroesNoneAndEmitsBySource() {
    let (operations, weights) = stage3([
      // Node 2: both edges always kept, however weak.
      0: ([.none, .maxPool3x3, .sepConv3x3], [0.98, 0.01, 0.01]),
      // Node 3: e2's strong none does not count (its score is its best other op, 0.05).
      2: ([.none, .skipConnect, .dilConv5x5], [0.9, 0.05, 0.05]),
      // Node 5: e11, e12 and e13 tie at 0.5: the later edges win (stable ascending sort).
      12: ([.avgPool3x3, .sepConv5x5, .dilConv3x3], [0.5, 0.3, 0.2]),
      13: ([.maxPool3x3, .sepConv3x3, .dilConv5x5], [0.25, 0.25, 0.5]),
      11: ([.sepConv3x3, .sepConv5x5, .dilConv3x3], [0.2, 0.5, 0.3]),
    ])
    let p = ProgressiveRules.finalProbabilities(operations: operations, weights: weights)
    XCTAssertEqual(p[0], [0, 0.01, 0.01])
    XCTAssertEqual(p[5], weights[5])
    let selection = ProgressiveRules.selectEdges(operations: operations, probabilities: p, topology: topology)
    // e0: none forced out, then the lower of two equal weights goes: sep3 stays.
    XCTAssertEqual(selection[0], .sepConv3x3)
    XCTAssertNil(selection[2])
    XCTAssertEqual(selection.compactMap { $0 }.count, 8)
    let cell = ProgressiveRules.cell(selection, topology: topology)
    XCTAssertEqual(cell, [
      .init(.sepConv3x3, 0), .init(.sepConv3x3, 1),  // node 2
      .init(.sepConv3x3, 1), .init(.sepConv3x3, 2),  // node 3: e3, e4 (e2 scores 0.05)
      .init(.sepConv3x3, 2), .init(.sepConv3x3, 3),  // node 4: the two highest, e7 and e8
      .init(.avgPool3x3, 3), .init(.dilConv5x5, 4),  // node 5: e12 and e13
    ])
  }

  func testSkipCapRederivesAndCanBringInANewSkipEdge() {
    let (operations, weights) = stage3([
      0: ([.maxPool3x3, .skipConnect, .sepConv3x3], [0.2, 0.55, 0.25]),
      1: ([.maxPool3x3, .skipConnect, .sepConv3x3], [0.1, 0.7, 0.2]),
      // Node 3: e3 strongest; e2 (skip 0.5) beats e4 (skip 0.45) until e2's skip is zeroed,
      // which brings e4's skip in; zeroing that one too leaves e4 with dil3 (0.35 > e2's 0.3).
      2: ([.avgPool3x3, .skipConnect, .sepConv3x3], [0.2, 0.5, 0.3]),
      3: ([.sepConv3x3, .sepConv5x5, .dilConv3x3], [0.6, 0.3, 0.1]),
      4: ([.maxPool3x3, .skipConnect, .dilConv3x3], [0.2, 0.45, 0.35]),
    ])
    let p = ProgressiveRules.finalProbabilities(operations: operations, weights: weights)
    let uncapped = ProgressiveRules.cell(ProgressiveRules.selectEdges(operations: operations, probabilities: p, topology: topology), topology: topology)
    XCTAssertEqual(uncapped.filter { $0.operation == .skipConnect }.count, 3)
    XCTAssertEqual(Array(uncapped[2..<4]), [.init(.skipConnect, 0), .init(.sepConv3x3, 1)])

    let levels = ProgressiveRules.capSkips(operations: operations, probabilities: p, topology: topology, limit: 0)
    XCTAssertEqual(levels.map(\.maxSkip), [2, 1, 0], "only the levels that changed the cell")
    XCTAssertEqual(Array(levels[0].normal[0..<4]), [
      .init(.skipConnect, 0), .init(.skipConnect, 1), .init(.sepConv3x3, 1), .init(.dilConv3x3, 2),
    ])
    XCTAssertEqual(Array(levels[1].normal[0..<2]), [.init(.sepConv3x3, 0), .init(.skipConnect, 1)])
    XCTAssertEqual(Array(levels[2].normal[0..<2]), [.init(.sepConv3x3, 0), .init(.sepConv3x3, 1)])
    for (level, count) in zip(levels, [2, 1, 0]) {
      XCTAssertEqual(level.normal.filter { $0.operation == .skipConnect }.count, count)
    }
    XCTAssertEqual(ProgressiveRules.capSkips(operations: operations, probabilities: p, topology: topology, limit: 2).map(\.maxSkip), [2])
    XCTAssertEqual(ProgressiveRules.capSkips(operations: operations, probabilities: p, topology: topology, limit: 3), [])
  }

  // MARK: Settings

  func testReferenceSettingsAndValidation() {
    var s = SearchSettings.reference(for: .pDarts)
    XCTAssertNil(s.validationProblem())
    XCTAssertEqual(s.stageCount, 3)
    XCTAssertEqual((0..<3).map { s.progressive!.layers(stage: $0, base: s.layers) }, [5, 11, 17])
    XCTAssertEqual((0..<3).map { s.progressive!.channels(stage: $0, base: s.channels) }, [16, 16, 16])
    XCTAssertEqual([s.batchSize, s.epochs, s.architectureWarmupEpochs], [96, 25, 10])
    XCTAssertEqual(s.architectureLearningRate, 6e-4)
    XCTAssertEqual(s.learningRateMin, 0)
    XCTAssertEqual(s.progressive?.skipDropout, [0, 0.4, 0.7])
    XCTAssertEqual(s.progressive?.maxSkip, 2)
    XCTAssertNil(SearchSettings.demo(for: .pDarts).validationProblem())
    s.order = 2
    XCTAssertEqual(s.validationProblem(), "--method p-darts is first order only (--order 1)")
    s.order = 1
    s.progressive?.skipDropout = [0.1, 0.4]
    XCTAssertNotNil(s.validationProblem())
    s.progressive?.skipDropout = [0.1, 0.4, 0.7]
    s.progressive?.addLayers = [6, 12, 18]
    XCTAssertNotNil(s.validationProblem())
    s.progressive = nil
    XCTAssertEqual(s.validationProblem(), "--method p-darts needs its stage settings")
    // The method's own rules are its strategy's.
    XCTAssertEqual(PDARTSStrategy.settingsProblem(s), "--method p-darts needs its stage settings")
    var darts = SearchSettings.reference(for: .darts)
    XCTAssertNil(DARTSStrategy.settingsProblem(darts))
    darts.progressive = ProgressiveSettings()
    let stagesOnly = "stage settings (--add-layers, --add-width, --skip-dropout, --max-skip) are for --method p-darts only"
    XCTAssertEqual(darts.validationProblem(), stagesOnly)
    XCTAssertEqual(DARTSStrategy.settingsProblem(darts), stagesOnly)
  }

  func testValidationEpochsFollowEachReference() {
    func validated(_ s: SearchSettings) -> [Int] { (0..<s.epochs).filter { s.validates(epoch: $0) } }
    XCTAssertEqual(validated(.reference(for: .darts)), Array(0..<50))
    XCTAssertEqual(validated(.reference(for: .pcDarts)), [49])
    XCTAssertEqual(validated(.imageNet()), [47, 48, 49])
    XCTAssertEqual(validated(.reference(for: .pDarts)), [20, 21, 22, 23, 24])
    XCTAssertEqual(validated(.demo(for: .pcDarts)), Array(0..<12))
    var never = SearchSettings.reference(for: .darts)
    never.validationEpochs = 0
    XCTAssertEqual(validated(never), [])
    never.validationEpochs = -1
    XCTAssertEqual(never.validationProblem(), "--validate-epochs must be at least 0")
  }
}
