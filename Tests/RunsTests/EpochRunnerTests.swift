import Datasets
import Foundation
import Runs
import XCTest

final class EpochRunnerTests: XCTestCase {
  private func events(_ directory: RunDirectory) throws -> [[String: Any]] {
    try String(contentsOf: directory.eventsURL, encoding: .utf8).split(separator: "\n")
      .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
  }

  /// Step `i` of the toy loop: loss `i`, `i` correct of 4 images.
  private func report(_ index: Int) -> StepReport {
    StepReport(loss: Double(index), correct: index, count: 4, fields: ["extra": .int(index)])
  }

  func testAnEpochLogsItsStepsTotalsAndCheckpoints() throws {
    let directory = try RunDirectory.create(at: makeTemporaryDirectory(self).appendingPathComponent("run"))
    var lines: [String] = []
    let journal = try RunJournal(directory: directory) { lines.append($0) }
    let runner = EpochRunner(journal: journal, stepsPerEpoch: 4, checkpointEvery: 2)
    var cursor = EpochCursor(position: BatchPosition(epoch: 0, step: 0), completedSteps: 0, epochLoss: 0, epochCorrect: 0, epochSeen: 0)
    var checkpoints: [EpochCursor] = []
    try runner.run(
      epoch: 0, label: "epoch 1/2", cursor: &cursor, fields: ["lr": .double(0.1)], startFields: ["note": .string("s")],
      step: report, evaluate: { EpochSummary(fields: ["valid": .double(0.5)], text: "  valid 0.5") },
      checkpoint: { checkpoints.append($0) })

    // Checkpoints every 2 completed steps, except after the epoch's last step.
    XCTAssertEqual(checkpoints.map(\.completedSteps), [2])
    XCTAssertEqual(checkpoints.first?.position, BatchPosition(epoch: 0, step: 2))
    XCTAssertEqual(checkpoints.first?.epochLoss, (0 + 1) * 4)
    // The epoch is over: the cursor points at the next epoch with its totals reset.
    XCTAssertEqual(cursor, EpochCursor(position: BatchPosition(epoch: 1, step: 0), completedSteps: 4, epochLoss: 0, epochCorrect: 0, epochSeen: 0))

    let logged = try events(directory)
    XCTAssertEqual(logged.map { $0["type"] as? String }, ["epoch_start", "step", "step", "step", "step", "epoch"])
    XCTAssertEqual(logged.map { $0["event"] as? Int }, Array(0..<6))
    XCTAssertEqual(logged[0]["note"] as? String, "s")
    XCTAssertEqual(logged[0]["lr"] as? Double, 0.1)
    XCTAssertEqual(logged[3]["step"] as? Int, 2)
    XCTAssertEqual(logged[3]["global_step"] as? Int, 3)
    XCTAssertEqual(logged[3]["accuracy"] as? Double, 0.5)
    XCTAssertEqual(logged[3]["extra"] as? Int, 2)
    XCTAssertEqual(logged[3]["lr"] as? Double, 0.1)
    XCTAssertNil(logged[3]["note"], "start fields belong to epoch_start only")
    let epoch = logged[5]
    XCTAssertEqual(epoch["train_loss"] as? Double, 1.5)  // mean of 0, 1, 2, 3 over equal batches
    XCTAssertEqual(epoch["train_accuracy"] as? Double, 6.0 / 16)
    XCTAssertEqual(epoch["valid"] as? Double, 0.5)
    XCTAssertEqual(epoch["global_step"] as? Int, 4)
    XCTAssertTrue(lines.contains { $0.hasPrefix("epoch 1/2  train loss 1.5000 acc 0.3750  valid 0.5  ") }, "\(lines)")
  }

  func testAnEpochResumedInItsMiddleKeepsItsTotalsAndSkipsTheStartEvent() throws {
    let directory = try RunDirectory.create(at: makeTemporaryDirectory(self).appendingPathComponent("run"))
    let journal = try RunJournal(directory: directory) { _ in }
    let runner = EpochRunner(journal: journal, stepsPerEpoch: 4, checkpointEvery: nil)
    // Steps 0 and 1 of epoch 3 ran before the interruption (losses 0 and 1, 0 + 1 correct).
    var cursor = EpochCursor(position: BatchPosition(epoch: 3, step: 2), completedSteps: 14, epochLoss: 4, epochCorrect: 1, epochSeen: 8)
    var ran: [Int] = []
    try runner.run(
      epoch: 1, label: "stage 2/3 epoch 2/2", cursor: &cursor,
      step: { ran.append($0); return self.report($0) }, evaluate: { EpochSummary() }, checkpoint: { _ in XCTFail("no step checkpoints") })
    XCTAssertEqual(ran, [2, 3])
    XCTAssertEqual(cursor.position, BatchPosition(epoch: 4, step: 0))
    XCTAssertEqual(cursor.completedSteps, 16)
    let logged = try events(directory)
    XCTAssertEqual(logged.map { $0["type"] as? String }, ["step", "step", "epoch"])
    XCTAssertEqual(logged[0]["epoch"] as? Int, 1, "events carry the epoch as given (within the stage)")
    XCTAssertEqual(logged[2]["train_loss"] as? Double, 1.5, "the epoch's totals include the steps before the interruption")
  }
}
