import SearchSpace

/// The stage schedule of P-DARTS (SPEC §4.1, §4.7; `chenxin061/pdarts` `train_search.py` with
/// the README flags): cells `layers + addLayers[s]`, channels `C + addWidth[s]`, the operations
/// kept per edge after each stage, and each stage's initial skip-connect dropout rate.
public struct ProgressiveSettings: Codable, Sendable, Equatable {
  /// Cells added to `layers` in the stages after the first (`--add-layers 6 12`).
  public var addLayers: [Int] = [6, 12]
  /// Channels added to C in the stages after the first (`--add-width 0 0`).
  public var addWidth: [Int] = [0, 0]
  /// Operations per edge kept after each stage (8 → 5 → 3 → 1).
  public var operationsKept: [Int] = [5, 3, 1]
  /// Initial skip-connect dropout rate of each stage. Default: the paper's CIFAR-10 setting
  /// 0.0, 0.4, 0.7; the README command uses 0.1, 0.4, 0.7, the paper's CIFAR-100 setting
  /// 0.1, 0.2, 0.3.
  public var skipDropout: [Double] = [0.0, 0.4, 0.7]
  /// Most skip-connects in the final normal cell (M, SPEC §4.6).
  public var maxSkip: Int = 2

  /// The reference schedule (CIFAR-10, paper rates).
  public init() {}

  /// Number of stages (3).
  public var stageCount: Int { operationsKept.count }

  /// Cells of stage `stage` (0-based).
  public func layers(stage: Int, base: Int) -> Int { base + (stage == 0 ? 0 : addLayers[stage - 1]) }

  /// Initial channels of stage `stage`.
  public func channels(stage: Int, base: Int) -> Int { base + (stage == 0 ? 0 : addWidth[stage - 1]) }

  /// A one-line reason these stages cannot run on a first supernet of `layers` cells with
  /// `operations` per edge, or nil.
  func validationProblem(layers: Int, operations: Int) -> String? {
    let n = stageCount
    if n < 1 { return "P-DARTS needs at least one stage" }
    if addLayers.count != n - 1 { return "--add-layers needs \(n - 1) values (cells added in stages 2…\(n))" }
    if addWidth.count != n - 1 { return "--add-width needs \(n - 1) values (channels added in stages 2…\(n))" }
    if skipDropout.count != n { return "--skip-dropout needs \(n) values (one initial rate per stage)" }
    if skipDropout.contains(where: { !(0..<1).contains($0) }) { return "--skip-dropout rates must be in [0, 1)" }
    // `layers` is within NetworkLimits here, so these sums cannot overflow.
    if addLayers.contains(where: { $0 < 3 - layers || $0 > NetworkLimits.maximumLayers - layers })
      || addWidth.contains(where: { !(0...NetworkLimits.maximumChannels).contains($0) }) {
      return "--add-layers must leave 3 to \(NetworkLimits.maximumLayers) cells and --add-width must be in 0...\(NetworkLimits.maximumChannels)"
    }
    if !(0...Genotype.maximumNodes * 2).contains(maxSkip) { return "--max-skip must be in 0...\(Genotype.maximumNodes * 2)" }
    var available = operations
    for kept in operationsKept {
      if !(1..<available).contains(kept) { return "each stage must keep between 1 operation and one less than it had (\(operationsKept))" }
      available = kept
    }
    if operationsKept.last != 1 { return "the last stage must keep one operation per edge" }
    return nil
  }
}
