import Datasets
import Foundation

/// Where an epoch loop stands: the next step and the running totals of the epoch in progress.
///
/// Runs store it in their checkpoints, so an epoch resumed in its middle reports the same
/// training loss and accuracy as an uninterrupted one.
public struct EpochCursor: Sendable, Equatable {
  /// The next step to run.
  public var position: BatchPosition
  /// Steps run since the start of the run.
  public var completedSteps: Int
  /// Sum of the per-image losses, correct predictions and images of the epoch so far.
  public var epochLoss: Double
  public var epochCorrect: Int
  public var epochSeen: Int

  public init(position: BatchPosition, completedSteps: Int, epochLoss: Double, epochCorrect: Int, epochSeen: Int) {
    self.position = position
    self.completedSteps = completedSteps
    self.epochLoss = epochLoss
    self.epochCorrect = epochCorrect
    self.epochSeen = epochSeen
  }

  /// Mean training loss of the epoch so far.
  public var trainLoss: Double { epochLoss / Double(epochSeen) }
  /// Training accuracy of the epoch so far.
  public var trainAccuracy: Double { Double(epochCorrect) / Double(epochSeen) }
}

/// A checkpoint state that keeps the fields of an `EpochCursor` at its top level (so that the
/// checkpoint's JSON stays flat), exposed together as `cursor`.
public protocol EpochCursorStorage {
  var position: BatchPosition { get set }
  var completedSteps: Int { get set }
  var epochLoss: Double { get set }
  var epochCorrect: Int { get set }
  var epochSeen: Int { get set }
}

extension EpochCursorStorage {
  /// The epoch loop's fields as one value.
  public var cursor: EpochCursor {
    get { EpochCursor(position: position, completedSteps: completedSteps, epochLoss: epochLoss, epochCorrect: epochCorrect, epochSeen: epochSeen) }
    set {
      (position, completedSteps) = (newValue.position, newValue.completedSteps)
      (epochLoss, epochCorrect, epochSeen) = (newValue.epochLoss, newValue.epochCorrect, newValue.epochSeen)
    }
  }
}

/// What one optimisation step reports: its mean loss, correct predictions and images, and
/// any further fields of its `step` event (`architecture_loss`, `auxiliary_loss`).
public struct StepReport {
  public var loss: Double
  public var correct: Int
  public var count: Int
  public var fields: [String: JSONValue]

  public init(loss: Double, correct: Int, count: Int, fields: [String: JSONValue] = [:]) {
    self.loss = loss
    self.correct = correct
    self.count = count
    self.fields = fields
  }
}

/// What the end of an epoch adds to its `epoch` event, and to its console line.
public struct EpochSummary {
  public var fields: [String: JSONValue]
  /// Appended to `label  train loss L acc A` (e.g. `  test loss …`).
  public var text: String

  public init(fields: [String: JSONValue] = [:], text: String = "") {
    self.fields = fields
    self.text = text
  }
}

/// The epoch loop shared by search and training runs: events, progress, step checkpoints
/// and the epoch's totals, around the step and evaluation a run supplies.
///
/// One call runs the rest of one epoch from `cursor.position`:
/// 1. an `epoch_start` event, unless the epoch is resumed in its middle;
/// 2. each remaining step, timed, with a `step` event (`epoch`, `step`, `global_step`,
///    `loss`, `accuracy`, `seconds`, `peak_memory_bytes`, the epoch's fields and the step's
///    own), a progress update, and a checkpoint every `checkpointEvery` completed steps
///    (except after the epoch's last step, which the run checkpoints itself);
/// 3. the run's evaluation, an `epoch` event (`global_step`, `train_loss`,
///    `train_accuracy`, `seconds`, `peak_memory_bytes`, the epoch's fields and the
///    evaluation's) and a console line; the totals restart for the next epoch.
public struct EpochRunner {
  public let journal: RunJournal
  public let stepsPerEpoch: Int
  /// Also checkpoint every N completed steps (nil: at epoch ends only).
  public let checkpointEvery: Int?

  public init(journal: RunJournal, stepsPerEpoch: Int, checkpointEvery: Int?) {
    self.journal = journal
    self.stepsPerEpoch = stepsPerEpoch
    self.checkpointEvery = checkpointEvery
  }

  /// Runs the rest of the epoch at `cursor.position`.
  /// - Parameters:
  ///   - epoch: the epoch number written in events (P-DARTS: counted within the stage).
  ///   - label: shown on the progress display and the console line (`stage 2/3 epoch 4/25`).
  ///   - fields: added to every event of the epoch (`lr`, `stage`, `drop_path`).
  ///   - startFields: further fields of the `epoch_start` event.
  ///   - step: runs step `index` of the epoch (fetching its batches) and reports it.
  ///   - evaluate: after the last step, the epoch's further results.
  ///   - checkpoint: saves a checkpoint at the given cursor.
  public func run(
    epoch: Int, label: String, cursor: inout EpochCursor, fields: [String: JSONValue] = [:],
    startFields: [String: JSONValue] = [:], step: (_ index: Int) throws -> StepReport,
    evaluate: () throws -> EpochSummary, checkpoint: (EpochCursor) throws -> Void
  ) throws {
    let clock = ContinuousClock()
    let epochStart = clock.now
    let schedulePosition = cursor.position.epoch
    func merged(_ a: [String: JSONValue], _ b: [String: JSONValue]) -> [String: JSONValue] {
      a.merging(b) { first, _ in first }
    }
    if cursor.position.step == 0 {
      try journal.log(merged(["type": "epoch_start", "epoch": .int(epoch)], merged(fields, startFields)))
    }
    let progress = journal.progress(label: label, total: stepsPerEpoch)
    for index in cursor.position.step..<stepsPerEpoch {
      let stepStart = clock.now
      let report = try step(index)
      cursor.epochLoss += report.loss * Double(report.count)
      cursor.epochCorrect += report.correct
      cursor.epochSeen += report.count
      cursor.completedSteps += 1
      cursor.position = BatchPosition(epoch: schedulePosition, step: index).advanced(stepsPerEpoch: stepsPerEpoch)
      let event: [String: JSONValue] = [
        "type": "step", "epoch": .int(epoch), "step": .int(index), "global_step": .int(cursor.completedSteps),
        "loss": .double(report.loss), "accuracy": .double(Double(report.correct) / Double(report.count)),
        "seconds": .double((clock.now - stepStart).inSeconds), "peak_memory_bytes": .int(ProcessMemory.peakResidentBytes() ?? 0),
      ]
      try journal.log(merged(event, merged(fields, report.fields)))
      progress.step(index + 1, metrics: [("loss", cursor.trainLoss), ("acc", cursor.trainAccuracy)])
      if let every = checkpointEvery, cursor.completedSteps % every == 0, index + 1 < stepsPerEpoch {
        try checkpoint(cursor)
      }
    }
    progress.finish()
    let summary = try evaluate()
    let event: [String: JSONValue] = [
      "type": "epoch", "epoch": .int(epoch), "global_step": .int(cursor.completedSteps),
      "train_loss": .double(cursor.trainLoss), "train_accuracy": .double(cursor.trainAccuracy),
      "seconds": .double((clock.now - epochStart).inSeconds), "peak_memory_bytes": .int(ProcessMemory.peakResidentBytes() ?? 0),
    ]
    try journal.log(merged(event, merged(fields, summary.fields)))
    let train = String(format: "train loss %.4f acc %.4f", cursor.trainLoss, cursor.trainAccuracy)
    journal.say("\(label)  \(train)\(summary.text)  " + String(format: "%.0f s", (clock.now - epochStart).inSeconds))
    (cursor.epochLoss, cursor.epochCorrect, cursor.epochSeen) = (0, 0, 0)
  }
}
