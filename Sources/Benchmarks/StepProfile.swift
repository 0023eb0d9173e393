import Dispatch
import TensorCore

/// Where a benchmark step's time goes: the tallies of a `ProfilingBackend` over the timed
/// steps, averaged per step, beside the profiled step's own time (`darts bench train
/// --profile`, `darts bench search --profile`). Time spent outside every primitive (graph
/// bookkeeping, freeing buffers, the host code between kernels) is the `rest`.
public struct StepProfile: Sendable {
  /// The tallies summed over every timed step.
  public var kernels: KernelProfile
  /// The timed steps.
  public var steps: Int
  /// Mean wall time of a profiled step, milliseconds.
  public var stepMilliseconds: Double

  /// One line of a profile, per step.
  public struct Row: Sendable {
    public var label: String
    public var calls: Double
    public var milliseconds: Double
    public var flops: Double
    public var bytes: Double
    /// The fraction of the step's time.
    public var share: Double
    /// Whether the rate that matters is GFLOP/s (compute-bound kernels) or GB/s
    /// (memory-bound); nil where neither is meaningful (allocation, the rest).
    public var isCompute: Bool?

    /// GFLOP/s or GB/s as `isCompute` says; nil without a rate or a time.
    public var rate: Double? {
      guard let isCompute, milliseconds > 0 else { return nil }
      return (isCompute ? flops : bytes) / (milliseconds * 1e6)
    }
  }

  private func row(_ label: String, _ tally: KernelTally, isCompute: Bool?) -> Row {
    let perStep = 1 / Double(steps)
    let milliseconds = Double(tally.nanoseconds) / 1e6 * perStep
    return Row(
      label: label, calls: Double(tally.calls) * perStep, milliseconds: milliseconds, flops: Double(tally.flops) * perStep,
      bytes: Double(tally.bytes) * perStep, share: milliseconds / stepMilliseconds, isCompute: isCompute)
  }

  /// The classes a step called, per step.
  public func row(_ kind: KernelClass) -> Row {
    row(kind.label, kernels[kind], isCompute: kind.family == .allocation ? nil : kind.family.isCompute)
  }

  /// Every family the step called, with its subtotal and its classes' rows, in
  /// `KernelClass.Family` order.
  public var families: [(family: KernelClass.Family, total: Row, classes: [Row])] {
    KernelClass.Family.allCases.compactMap { family in
      let used = family.classes.filter { kernels[$0].calls > 0 }
      guard !used.isEmpty else { return nil }
      let sum = used.map { kernels[$0] }.reduce(KernelTally(), +)
      return (family, row(family.rawValue, sum, isCompute: family == .allocation ? nil : family.isCompute), used.map(row))
    }
  }

  /// The step's time outside every tallied primitive: autodiff bookkeeping and the rest.
  public var rest: Row {
    let tallied = Double(kernels.total.nanoseconds) / 1e6 / Double(steps)
    let milliseconds = stepMilliseconds - tallied
    return Row(label: "autodiff bookkeeping and the rest", calls: 0, milliseconds: milliseconds, flops: 0, bytes: 0, share: milliseconds / stepMilliseconds, isCompute: nil)
  }

  /// The whole step: its time, its FLOPs and its minimum bytes, rated in GFLOP/s.
  public var step: Row {
    var whole = row("step", kernels.total, isCompute: true)
    (whole.milliseconds, whole.share) = (stepMilliseconds, 1)
    return whole
  }

  /// Times `steps` calls of `step` (after the caller's warm-up) with `backend`'s tallies
  /// started afresh, and returns them with the mean step time. A step's error is rethrown.
  static func measure(_ steps: Int, on backend: ProfilingBackend, _ step: () throws -> Void) throws -> StepProfile {
    backend.resetProfile()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<steps { try step() }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    return StepProfile(kernels: backend.profile, steps: steps, stepMilliseconds: elapsed / Double(steps))
  }
}
