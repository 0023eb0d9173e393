import Foundation
import NN

/// The learning rate of every epoch of an evaluation training run (SPEC §6.1, §6.2): a
/// schedule and an optional linear warm-up, as pure functions of the epoch.
public struct LearningRatePlan: Codable, Sendable, Equatable {
  /// The decay after warm-up.
  public enum Schedule: String, Codable, Sendable, CaseIterable {
    /// Cosine annealing from `initial` to `minimum` over the run (CIFAR, SPEC §6.1; P-DARTS /
    /// PC-DARTS ImageNet `--lr_scheduler cosine`).
    case cosine
    /// `initial · gamma^e` (DARTS ImageNet: StepLR, step 1, γ = 0.97).
    case step
    /// P-DARTS / PC-DARTS ImageNet `adjust_lr`: linear to a small value, with a gentler slope
    /// in the last five epochs so it never reaches 0 (SPEC §6.2).
    case linear
  }

  /// How the warm-up epochs scale the rate.
  public enum Warmup: String, Codable, Sendable, CaseIterable {
    /// `lr = schedule(e) · (e + 1) / W` (P-DARTS `train_imagenet.py`).
    case schedule
    /// `lr = initial · (e + 1) / W` (PC-DARTS `train_imagenet.py`).
    case initial
  }

  public var schedule: Schedule
  /// The rate at epoch 0 of the schedule (before warm-up scaling).
  public var initial: Double
  /// Cosine only: the rate approached at the end.
  public var minimum: Double
  /// Step only: the factor per epoch.
  public var gamma: Double
  /// Epochs of the run, E.
  public var epochs: Int
  /// Warm-up epochs W at the start (the ImageNet recipes use 5 when the batch exceeds 256).
  public var warmupEpochs: Int
  public var warmup: Warmup

  public init(
    schedule: Schedule, initial: Double, minimum: Double = 0, gamma: Double = 0.97, epochs: Int,
    warmupEpochs: Int = 0, warmup: Warmup = .schedule
  ) {
    self.schedule = schedule
    self.initial = initial
    self.minimum = minimum
    self.gamma = gamma
    self.epochs = epochs
    self.warmupEpochs = warmupEpochs
    self.warmup = warmup
  }

  /// The rate of the schedule alone at epoch `e` (0-based).
  ///
  /// Linear (SPEC §6.2, E epochs): `initial · (E − 5 − e)/(E − 5)` for `e < E − 5`, then
  /// `initial · (E − e)/(5·(E − 5))`; with 0.5 and E = 250: 0.5, 0.49796, …, 0.00204 at
  /// e = 244 and 245, …, 0.000408 at e = 249.
  public func scheduledRate(epoch e: Int) -> Double {
    switch schedule {
    case .cosine:
      return CosineAnnealing(initial: initial, minimum: minimum, epochs: epochs).learningRate(epoch: e)
    case .step:
      return initial * pow(gamma, Double(e))
    case .linear:
      let plateau = Double(epochs - 5)
      guard plateau > 0 else { return initial * Double(epochs - e) / Double(max(epochs, 1)) }
      return e < epochs - 5
        ? initial * (plateau - Double(e)) / plateau
        : initial * Double(epochs - e) / (5 * plateau)
    }
  }

  /// The rate used in epoch `e`, warm-up included.
  public func learningRate(epoch e: Int) -> Double {
    guard e < warmupEpochs else { return scheduledRate(epoch: e) }
    let ramp = Double(e + 1) / Double(warmupEpochs)
    return (warmup == .schedule ? scheduledRate(epoch: e) : initial) * ramp
  }
}
