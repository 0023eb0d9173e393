import DataParallel
import Datasets
import Foundation
import NN
import Runs
import SearchSpace
import TensorCore

/// The curvature monitor and RobustDARTS' reactions to it in a search run (SPEC-ROBUST §4):
/// the eigenvalue of every monitored epoch, its history, DARTS-ES' stop and DARTS-ADA's
/// roll-back to a snapshot with a larger weight decay.
extension SearchRun {
  /// What DARTS-ES and DARTS-ADA keep in the checkpoint.
  struct CurvatureState: Codable {
    /// The monitored eigenvalues, their local averages and genotypes.
    var trend: EigenvalueTrend
    /// The weights' L2 coefficient now (DARTS-ADA raises it).
    var weightDecay: Double
    /// How many times DARTS-ADA has rolled back.
    var adaptations: Int
    /// Where DARTS-ES stopped the search (nil: running).
    var stop: EarlyStop?

    /// The state of a new run, or nil without a reaction to the eigenvalue.
    init?(_ settings: SearchSettings) {
      guard settings.earlyStop != nil else { return nil }
      (trend, weightDecay, adaptations, stop) = (EigenvalueTrend(), settings.weightDecay, 0, nil)
    }

    /// Why a checkpoint's `state` cannot belong to a run of `settings`, or nil.
    static func problem(_ state: CurvatureState?, settings: SearchSettings) -> String? {
      switch (state, settings.earlyStop) {
      case (nil, nil): return nil
      case (nil, _?): return "the checkpoint has no eigenvalue history, but the run reacts to the eigenvalue (--early-stop or --adaptive-regularization)"
      case (_?, nil): return "the checkpoint has an eigenvalue history, but the run does not react to the eigenvalue"
      case (let state?, _?):
        if !(state.weightDecay.isFinite && state.weightDecay >= 0) { return "the adapted weight decay is \(state.weightDecay)" }
        if state.adaptations < 0 { return "the count of DARTS-ADA roll-backs is negative (\(state.adaptations))" }
        if let bad = state.trend.measurements.first(where: { !$0.eigenvalue.isFinite }) { return "the eigenvalue of epoch \(bad.epoch) is \(bad.eigenvalue)" }
        return nil
      }
    }
  }

  /// Where DARTS-ES stopped: the epoch whose genotype the search returns.
  struct EarlyStop: Codable {
    var epoch: Int
    /// The epoch whose eigenvalue triggered the stop.
    var triggeredAt: Int
    var genotype: Genotype

    /// The field of `architecture.json` that records the stop.
    var architectureFields: [String: JSONValue] {
      ["early_stop": .object(["epoch": .int(epoch), "triggered_at": .int(triggeredAt), "genotype": .string(genotype.description)])]
    }
  }

  /// Measures the eigenvalue at the end of epoch `epoch` (position `position`), adds it to the
  /// epoch's `summary` and, when the run reacts to it, to the history.
  /// - Returns: the epoch and genotype the reaction returns to, when the history triggers it.
  func monitorCurvature(
    _ monitor: HessianMonitor, position: Int, epoch: Int, stepsPerEpoch: Int, genotype: Genotype, summary: inout EpochSummary
  ) throws -> (epoch: Int, genotype: Genotype)? {
    let clock = ContinuousClock()
    let start = clock.now
    let estimate = try directory.stoppingOnNonFinite(at: "epoch \(epoch) Hessian eigenvalue") {
      try dominantEigenvalue(monitor, position: position, stepsPerEpoch: stepsPerEpoch)
    }
    summary.fields["hessian_eigenvalue"] = .double(estimate.eigenvalue)
    summary.fields["hessian_products"] = .int(estimate.products)
    summary.fields["hessian_converged"] = .bool(estimate.converged)
    summary.fields["hessian_seconds"] = .double((clock.now - start).inSeconds)
    summary.text += String(format: "  λmax %.4g", estimate.eigenvalue)
    guard let rule = settings.earlyStop, var curvature = state.curvature else { return nil }
    curvature.trend.record(epoch: epoch, of: settings.epochs, period: monitor.every, eigenvalue: estimate.eigenvalue, genotype: genotype, window: rule.window)
    if let averageEpoch = curvature.trend.measurements.last?.averageEpoch, let average = curvature.trend.localAverages.last {
      summary.fields["eigenvalue_local_average"] = .double(average)
      summary.fields["eigenvalue_average_epoch"] = .int(averageEpoch)
    }
    state.curvature = curvature
    guard epoch != settings.epochs - 1 else { return nil }
    return curvature.trend.trigger(at: epoch, period: monitor.every, rule: rule)
  }

  /// The largest eigenvalue of the α Hessian of the cross-entropy on the epoch's last α batch
  /// (its global batch, shared by the processes like every gradient), the random layers
  /// reseeded alike before every forward pass, started from a vector keyed by the position.
  private func dominantEigenvalue(_ monitor: HessianMonitor, position: Int, stepsPerEpoch: Int) throws -> PowerIteration.Estimate {
    let batch = try group.together { try architectureSampler.batch(at: BatchPosition(epoch: position, step: stepsPerEpoch - 1), on: backend) }
    let labelled = LabelledBatch(images: batch.images, labels: batch.labels, globalCount: batch.globalCount)
    let (network, parallelism, seed) = (network, parallelism, settings.seed)
    let random = network.randomLayers
    return try monitor.eigenvalue(
      of: network, weightDecay: settings.architectureWeightDecay, start: derivedGenerator(seed, Self.hessianStream, UInt64(position))
    ) { alphas in
      try SearchOptimization.lossGradients(network: network, batch: labelled, wrt: alphas, parallelism: parallelism) { chunk in
        reseed(random, from: derivedGenerator(seed, Self.randomLayerStream, UInt64(position), UInt64.max - 1, UInt64(chunk)))
      }.gradients
    }
  }

  /// The reaction to a trigger at epoch `epoch` (the epoch's checkpoint not yet written):
  /// DARTS-ES records the stop and checkpoints; DARTS-ADA rolls back unless the weight decay
  /// has reached its maximum, when the trigger is ignored (as RobustDARTS' last iteration).
  /// - Returns: how the stage ends, or nil to go on.
  func react(to trigger: (epoch: Int, genotype: Genotype), at epoch: Int) throws -> StageEnd? {
    guard let rule = settings.earlyStop, let curvature = state.curvature else { return nil }
    guard let adaptive = rule.adaptive else {
      state.curvature?.stop = EarlyStop(epoch: trigger.epoch, triggeredAt: epoch, genotype: trigger.genotype)
      try journal.log([
        "type": "early_stop", "epoch": .int(trigger.epoch), "triggered_at": .int(epoch), "genotype": .string(trigger.genotype.description),
      ])
      journal.say("DARTS-ES: the eigenvalue's local average rose by more than \(rule.factor)× at epoch \(epoch + 1); the search returns the genotype of epoch \(trigger.epoch + 1): \(trigger.genotype)")
      try saveCheckpoint()
      return .stopped
    }
    guard !adaptive.isExhausted(curvature.weightDecay) else { return nil }
    try rollBack(to: trigger.epoch, triggeredAt: epoch, weightDecay: min(curvature.weightDecay * adaptive.factor, adaptive.maximumWeightDecay), adaptations: curvature.adaptations + 1)
    return .rolledBack
  }

  /// DARTS-ADA: restores weights, BN statistics, α, both optimisers and the eigenvalue
  /// history from the snapshot of epoch `epoch`, sets the weights' L2 coefficient and
  /// checkpoints; the events go on from where they are.
  private func rollBack(to epoch: Int, triggeredAt: Int, weightDecay: Double, adaptations: Int) throws {
    let url = directory.snapshotURL(epoch: epoch)
    let (group, backend, settings) = (group, backend, settings)
    let snapshot = try group.together { () -> Checkpoint<CheckpointState>? in
      guard group.isLeader else { return nil }
      guard FileManager.default.fileExists(atPath: url.path) else {
        throw SearchRunError("\(url.path): missing; DARTS-ADA rolls back to the snapshot of epoch \(epoch + 1)")
      }
      let loaded = try Checkpoint<CheckpointState>.load(from: url, on: backend)
      guard loaded.state.settings == settings else { throw SearchRunError("\(url.path): the snapshot was written with other settings than the run") }
      return loaded
    }
    guard let restored = try Checkpoint.replicated(snapshot, in: group, naming: url.path, on: backend) else { return }
    try restore(restored)
    state.curvature?.weightDecay = weightDecay
    state.curvature?.adaptations = adaptations
    optimization.weights.weightDecay = Float(weightDecay)
    try journal.log([
      "type": "adaptive_regularization", "epoch": .int(epoch), "triggered_at": .int(triggeredAt),
      "weight_decay": .double(weightDecay), "adaptations": .int(adaptations),
    ])
    journal.say(String(format: "DARTS-ADA: the eigenvalue rose at epoch %d; rolled back to the end of epoch %d with weight decay %g", triggeredAt + 1, epoch + 1, weightDecay))
    try saveCheckpoint()
  }

  /// The epoch whose end-of-epoch checkpoint is also kept as a snapshot: every monitored epoch
  /// of a DARTS-ADA run (the epochs it may roll back to), else nil.
  func snapshotEpoch(afterMonitoring epoch: Int) -> Int? {
    guard settings.earlyStop?.adaptive != nil, let monitor = settings.hessian, monitor.measures(epoch: epoch, epochs: settings.epochs) else { return nil }
    return epoch
  }

  /// Writes `checkpoint` as the snapshot of `epoch` and deletes the snapshots no trigger can
  /// return to any more: a trigger at epoch `e` returns to `e − N·(⌊w/2⌋ + δ)`.
  func saveSnapshot<State: Codable>(_ checkpoint: Checkpoint<State>, epoch: Int) throws {
    guard let rule = settings.earlyStop, let monitor = settings.hessian else { return }
    try directory.createSnapshotDirectory()
    try checkpoint.save(to: directory.snapshotURL(epoch: epoch))
    let oldest = epoch - monitor.every * (rule.window / 2 + rule.delta)
    for old in directory.snapshotEpochs() where old < oldest { directory.removeSnapshot(epoch: old) }
  }
}
