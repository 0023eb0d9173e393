import Search
import SearchSpace
import XCTest

/// RobustDARTS' local-average early stop (SPEC-ROBUST §4, the code form `EVLocalAvg`) on
/// constructed eigenvalue series.
final class EigenvalueTrendTests: XCTestCase {
  /// A distinct genotype per epoch, to see which one the rule returns.
  private func genotype(_ epoch: Int) -> Genotype {
    let normal = (0..<8).map { Genotype.Edge(.skipConnect, $0 == 0 ? epoch % 2 : 0) }
    let reduce = (0..<8).map { Genotype.Edge(.maxPool3x3, $0 == 0 ? epoch / 2 % 2 : $0 == 1 ? epoch / 4 % 2 : 0) }
    return Genotype(normal: normal, reduce: reduce)
  }

  /// Eigenvalues every 2 epochs (50 in all); returns the trend after `values` and the first
  /// trigger with the epoch it fired at.
  private func replay(_ values: [Double], rule: EigenvalueEarlyStop = EigenvalueEarlyStop()) -> (EigenvalueTrend, (at: Int, epoch: Int, genotype: Genotype)?) {
    var trend = EigenvalueTrend()
    for (index, value) in values.enumerated() {
      let epoch = 2 * index
      trend.record(epoch: epoch, of: 50, period: 2, eigenvalue: value, genotype: genotype(epoch), window: rule.window)
      if let fired = trend.trigger(at: epoch, period: 2, rule: rule) { return (trend, (epoch, fired.epoch, fired.genotype)) }
    }
    return (trend, nil)
  }

  /// The worked example: local averages 1.00 (epoch 10: the mean of epochs 6…14) and 1.35
  /// (epoch 18: epochs 14…22) fire the check at epoch 22, which returns the genotype of epoch 10.
  func testTheWorkedExampleFiresAtEpoch22WithTheGenotypeOfEpoch10() throws {
    let rise = 5.75 / 4  // epochs 16…22, so that (1 + 4·rise)/5 = 1.35
    let (trend, fired) = replay(Array(repeating: 1, count: 8) + Array(repeating: rise, count: 4))
    let trigger = try XCTUnwrap(fired)
    XCTAssertEqual(trigger.at, 22)
    XCTAssertEqual(trigger.epoch, 10)
    XCTAssertEqual(trigger.genotype, genotype(10))
    XCTAssertEqual(trend.localAverages.last!, 1.35, accuracy: 1e-12)
    XCTAssertEqual(trend.localAverages[trend.localAverages.count - 5], 1.0, accuracy: 1e-12)
    XCTAssertEqual(trend.measurements.last?.averageEpoch, 18)
  }

  func testNoTriggerBelowTheFactorOrBeforeTheStartEpoch() {
    let below = 5.4 / 4  // (1 + 4·1.35)/5 = 1.28 < 1.3
    XCTAssertNil(replay(Array(repeating: 1, count: 8) + Array(repeating: below, count: 8)).1)
    // A steep rise early: the first epoch whose check may fire is 22 (18 − 8 ≥ 10).
    let (_, fired) = replay([1, 1, 1, 1, 10, 10, 10, 10, 10, 10, 10, 10, 10])
    XCTAssertNil(fired, "the averages have flattened out by epoch 22")
  }

  /// Local averages start with the third eigenvalue (means of all while fewer than 5), then
  /// slide over the last 5, each attributed to its epoch minus 4.
  func testLocalAveragesFollowTheReferenceWindow() {
    var trend = EigenvalueTrend()
    let values: [Double] = [1, 2, 3, 4, 5, 6, 7]
    for (index, value) in values.enumerated() {
      trend.record(epoch: 2 * index, of: 50, period: 2, eigenvalue: value, genotype: genotype(0), window: 5)
    }
    XCTAssertEqual(trend.localAverages, [2, 2.5, 3, 4, 5])
    XCTAssertEqual(trend.measurements.map(\.averageEpoch), [nil, nil, 0, 2, 4, 6, 8])
    XCTAssertEqual(trend.eigenvalues, values)
  }

  /// At the last epoch the reference appends ⌈w/2⌉ closing averages over a tail whose end
  /// stays put while its start moves on.
  func testTheLastEpochAppendsTheClosingAverages() {
    var trend = EigenvalueTrend()
    for (index, value) in [1.0, 2, 3, 4, 5, 6].enumerated() {
      trend.record(epoch: 2 * index, of: 11, period: 2, eigenvalue: value, genotype: genotype(0), window: 5)
    }
    // Epoch 10 is the last of 11: the means of values 2…6, 3…6 and 4…6.
    XCTAssertEqual(Array(trend.localAverages.suffix(3)), [4, 4.5, 5])
    XCTAssertNil(trend.trigger(at: 10, period: 2, rule: EigenvalueEarlyStop()))
  }

  func testDARTSADAStopsRaisingAtItsMaximum() {
    let ada = AdaptiveRegularization(factor: 10, maximumWeightDecay: 0.03)
    XCTAssertFalse(ada.isExhausted(3e-4))
    XCTAssertFalse(ada.isExhausted(3e-3))
    XCTAssertTrue(ada.isExhausted(3e-4 * 10 * 10))
    XCTAssertTrue(AdaptiveRegularization().isExhausted(3e-4 * 3 * 3 * 3 * 3), "0.0243 = 3e-4·3⁴")
  }
}
