import Foundation
import SearchSpace

/// RobustDARTS' reaction to a rising eigenvalue (`--early-stop eigenvalue`, or with
/// ``adaptive`` `--adaptive-regularization`; Zela et al., ICLR 2020; SPEC-ROBUST §4, the code
/// form `EVLocalAvg`). Local averages of the monitored eigenvalues are compared ``delta``
/// averages apart; a ratio above ``factor`` triggers. DARTS-ES then stops and returns the
/// genotype of the epoch the earlier average belongs to; DARTS-ADA rolls the run back to that
/// epoch and multiplies the weights' L2 coefficient.
public struct EigenvalueEarlyStop: Codable, Sendable, Equatable {
  /// Eigenvalues per local average.
  public var window: Int
  /// No trigger before the earlier average's epoch reaches this.
  public var startEpoch: Int
  /// Local averages between the two compared.
  public var delta: Int
  /// The ratio of the later to the earlier average that triggers.
  public var factor: Double
  /// DARTS-ADA: roll back and raise the weight decay instead of stopping (nil: DARTS-ES).
  public var adaptive: AdaptiveRegularization?

  public init(window: Int = 5, startEpoch: Int = 10, delta: Int = 4, factor: Double = 1.3, adaptive: AdaptiveRegularization? = nil) {
    self.window = window
    self.startEpoch = startEpoch
    self.delta = delta
    self.factor = factor
    self.adaptive = adaptive
  }

  /// Why the rule cannot run, in one line naming the flag, or nil.
  func settingsProblem() -> String? {
    if !(1...1000).contains(window) { return "--early-stop-window must be in 1...1000, got \(window)" }
    if !(0...100_000).contains(startEpoch) { return "--early-stop-start must be in 0...100000, got \(startEpoch)" }
    if !(1...1000).contains(delta) { return "--early-stop-delta must be in 1...1000, got \(delta)" }
    if !(factor.isFinite && factor > 0) { return "--early-stop-factor must be positive and finite, got \(factor)" }
    return adaptive?.settingsProblem()
  }
}

/// DARTS-ADA's schedule of the weights' L2 coefficient: on each trigger it is multiplied by
/// ``factor`` until it has reached ``maximumWeightDecay``; later triggers are ignored
/// (RobustDARTS' scripts: factor 10, 3e-4 → 3e-3 → 3e-2 with maximum 0.03; defaults 3 and
/// 0.0243 = 3e-4·3⁴). α's own weight decay is not changed.
public struct AdaptiveRegularization: Codable, Sendable, Equatable {
  public var factor: Double
  public var maximumWeightDecay: Double

  public init(factor: Double = 3, maximumWeightDecay: Double = 0.0243) {
    self.factor = factor
    self.maximumWeightDecay = maximumWeightDecay
  }

  /// Whether `weightDecay` has reached the maximum (within rounding of the products), so that
  /// a trigger no longer rolls back.
  public func isExhausted(_ weightDecay: Double) -> Bool { weightDecay >= maximumWeightDecay * (1 - 1e-9) }

  func settingsProblem() -> String? {
    if !(factor.isFinite && factor > 1) { return "--adaptive-factor must be finite and greater than 1, got \(factor)" }
    if !(maximumWeightDecay.isFinite && maximumWeightDecay > 0) { return "--adaptive-max-weight-decay must be positive and finite, got \(maximumWeightDecay)" }
    return nil
  }
}

/// The history that ``EigenvalueEarlyStop`` judges: the monitored eigenvalues, their local
/// averages, the epoch each average is attributed to and the genotype of every monitored
/// epoch. It follows RobustDARTS' `EVLocalAvg` exactly, with `N` the monitor's period:
///
/// - once there are `⌈w/2⌉` eigenvalues (and before the last epoch), every new one appends a
///   local average: the mean of all while there are fewer than `w`, then of the last `w`,
///   attributed to epoch `e − N·⌊w/2⌋`;
/// - at the last epoch, `⌈w/2⌉` closing averages over a shrinking tail are appended instead;
/// - the check at epoch `e` (not the last) fires when the attributed epoch minus `N·δ` is at
///   least the start epoch and the latest average exceeds `factor` times the one `δ` before it.
///
/// Example (N = 2, w = 5, δ = 4, start 10): averages 1.00 at epoch 10 and 1.35 at epoch 18 fire
/// at epoch 22 and return the genotype of epoch 10 (`e − 12`).
public struct EigenvalueTrend: Codable, Sendable, Equatable {
  /// The eigenvalue and genotype of one monitored epoch.
  public struct Measurement: Codable, Sendable, Equatable {
    public var epoch: Int
    public var eigenvalue: Double
    public var genotype: Genotype
    /// The epoch the local average appended with this measurement belongs to (nil: none).
    public var averageEpoch: Int?
  }

  public private(set) var measurements: [Measurement] = []
  public private(set) var localAverages: [Double] = []
  /// Index of the first eigenvalue of the next full window.
  private var windowStart = 0

  public init() {}

  public var eigenvalues: [Double] { measurements.map(\.eigenvalue) }

  /// Records the eigenvalue of epoch `epoch` of `epochs` (monitored every `period` epochs) and
  /// the genotype derived at it.
  public mutating func record(epoch: Int, of epochs: Int, period: Int, eigenvalue: Double, genotype: Genotype, window: Int) {
    measurements.append(Measurement(epoch: epoch, eigenvalue: eigenvalue, genotype: genotype, averageEpoch: nil))
    let values = eigenvalues
    let half = (window + 1) / 2
    if values.count >= half && epoch < epochs - 1 {
      if values.count < window {
        localAverages.append(Self.mean(values[...]))
      } else {
        localAverages.append(Self.mean(values[windowStart..<(windowStart + window)]))
        windowStart += 1
      }
      measurements[measurements.count - 1].averageEpoch = epoch - period * (window / 2)
    } else if values.count >= half && epoch == epochs - 1 {
      // The reference's closing averages: the window's end stays one past its last full
      // position while its start moves on.
      let end = min(windowStart + window + 1, values.count)
      for _ in 0..<half {
        localAverages.append(Self.mean(values[min(windowStart, end)..<end]))
        windowStart += 1
      }
    }
  }

  /// The epoch whose genotype the rule returns if the measurement just recorded at `epoch`
  /// (monitored every `period` epochs) triggers it, or nil.
  public func trigger(at epoch: Int, period: Int, rule: EigenvalueEarlyStop) -> (epoch: Int, genotype: Genotype)? {
    guard let last = measurements.last, last.epoch == epoch, let averageEpoch = last.averageEpoch else { return nil }
    let stopEpoch = averageEpoch - period * rule.delta
    guard stopEpoch >= rule.startEpoch, localAverages.count > rule.delta else { return nil }
    let previous = localAverages[localAverages.count - 1 - rule.delta]
    guard previous != 0, localAverages[localAverages.count - 1] / previous > rule.factor else { return nil }
    guard let stop = measurements.last(where: { $0.epoch <= stopEpoch }) else { return nil }
    return (stopEpoch, stop.genotype)
  }

  private static func mean(_ values: ArraySlice<Double>) -> Double {
    values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
  }
}
