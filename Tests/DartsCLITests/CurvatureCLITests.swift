import Foundation
import XCTest

/// The Hessian eigenvalue monitor, DARTS-ES and DARTS-ADA through `darts search`
/// (SPEC-ROBUST §4): events, the stop and its genotype, roll-backs, kill -9 and resume.
final class CurvatureCLITests: XCTestCase {
  /// A tiny search measured every epoch, with a rule that fires at the first epoch it may:
  /// one eigenvalue per average, compared with the one before, from epoch 0 on, any rise
  /// of the ratio above 0.001 (the eigenvalues here are positive).
  let tiny = [
    "search", "--limit", "128", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "4", "--max-steps-per-epoch", "2", "--checkpoint-every", "1", "--threads", "2", "--hessian-every", "1",
  ]
  let eagerRule = ["--early-stop-start", "0", "--early-stop-window", "1", "--early-stop-delta", "1", "--early-stop-factor", "0.001"]

  func testEarlyStopReturnsTheGenotypeOfTheEarlierEpochAndResumesAsStopped() throws {
    let (run, interrupted) = try uninterruptedAndResumedRuns(tiny + ["--early-stop", "eigenvalue"] + eagerRule)
    try assertSameFiles(run, interrupted)
    let objects = try events(in: run)
    let epochs = objects.filter { $0["type"] as? String == "epoch" }
    XCTAssertEqual(epochs.count, 2, "stopped after the check of epoch 1")
    let eigenvalues = try epochs.map { try XCTUnwrap($0["hessian_eigenvalue"] as? Double) }
    XCTAssert(eigenvalues.allSatisfy { $0 > 0 && $0.isFinite }, "\(eigenvalues)")
    XCTAssertEqual(epochs.map { $0["eigenvalue_average_epoch"] as? Int }, [0, 1])
    let stop = try XCTUnwrap(objects.first { $0["type"] as? String == "early_stop" })
    XCTAssertEqual(stop["epoch"] as? Int, 0)
    XCTAssertEqual(stop["triggered_at"] as? Int, 1)
    XCTAssertEqual(stop["genotype"] as? String, epochs[0]["genotype"] as? String, "the genotype of epoch 0")
    let architecture = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("architecture.json"))) as! [String: Any]
    XCTAssertEqual((architecture["early_stop"] as? [String: Any])?["genotype"] as? String, epochs[0]["genotype"] as? String)
    XCTAssertEqual(try events(in: interrupted).filter { $0["type"] as? String == "step" }.count, 4)
    // A stopped run resumed has nothing left to do and reports the same genotype.
    let again = try runDarts(["search", "--resume", run.path])
    XCTAssertEqual(again.status, 0, again.err)
    XCTAssertEqual(try events(in: run).count, objects.count)
  }

  /// DARTS-ADA rolls back to epoch 0 twice (weight decay 3e-4 → 3e-3 → 0.03, the maximum),
  /// then ignores the trigger; a run killed after its first roll-back and resumed ends
  /// byte for byte like the uninterrupted one.
  func testAdaptiveRegularizationRollsBackAndResumesBitIdentically() throws {
    let arguments = tiny + ["--adaptive-regularization", "--weight-decay", "3e-4", "--adaptive-factor", "10", "--adaptive-max-weight-decay", "0.03"] + eagerRule
    let root = try temporaryDirectory()
    let reference = root.appendingPathComponent("reference")
    let result = try runDarts(arguments + ["--run-dir", reference.path])
    XCTAssertEqual(result.status, 0, result.err)
    XCTAssert(result.out.contains("DARTS-ADA: the eigenvalue rose at epoch 2; rolled back to the end of epoch 1 with weight decay 0.003"), result.out)
    let objects = try events(in: reference)
    let rollbacks = objects.filter { $0["type"] as? String == "adaptive_regularization" }
    XCTAssertEqual(rollbacks.map { $0["epoch"] as? Int }, [0, 0])
    XCTAssertEqual(rollbacks.map { $0["adaptations"] as? Int }, [1, 2])
    let decays = rollbacks.compactMap { $0["weight_decay"] as? Double }
    XCTAssertEqual(decays.count, 2)
    XCTAssertEqual(decays[0], 3e-3, accuracy: 1e-12)
    XCTAssertEqual(decays[1], 0.03, accuracy: 1e-12)
    XCTAssertEqual(objects.filter { $0["type"] as? String == "epoch" }.map { $0["epoch"] as? Int }, [0, 1, 1, 1, 2, 3])
    XCTAssertEqual(objects.filter { $0["type"] as? String == "step" }.count, 12)
    let snapshots = try FileManager.default.contentsOfDirectory(atPath: reference.appendingPathComponent("snapshots").path).sorted()
    // A trigger at epoch e returns to e − N·(⌊w/2⌋ + δ) = e − 1: older snapshots are deleted.
    XCTAssertEqual(snapshots, ["epoch-0002.safetensors", "epoch-0003.safetensors"])

    let interrupted = root.appendingPathComponent("interrupted")
    try runDartsKilled(arguments + ["--run-dir", interrupted.path], run: interrupted, onceEventsContain: "adaptive_regularization")
    let resumed = try runDarts(["search", "--resume", interrupted.path])
    XCTAssertEqual(resumed.status, 0, resumed.err)
    try assertSameFiles(reference, interrupted)
    XCTAssertEqual(
      try Data(contentsOf: reference.appendingPathComponent("checkpoint.safetensors")),
      try Data(contentsOf: interrupted.appendingPathComponent("checkpoint.safetensors")), "every tensor and the state")
    let kinds = { (run: URL) in try self.events(in: run).compactMap { $0["type"] as? String } }
    XCTAssertEqual(try kinds(reference), try kinds(interrupted))
  }

  func testBadCurvatureOptionsAreOneLine() throws {
    let bad: [([String], String)] = [
      (["--hessian-every", "0"], "--hessian-every must be in 1...100000, got 0"),
      (["--early-stop", "loss"], "--early-stop must be none or eigenvalue, got 'loss'"),
      (["--early-stop", "eigenvalue", "--adaptive-regularization"], "--early-stop eigenvalue stops the search and --adaptive-regularization rolls it back instead: choose one"),
      (["--early-stop-factor", "1.5"], "apply to --early-stop eigenvalue or --adaptive-regularization only"),
      (["--adaptive-factor", "2"], "--adaptive-factor and --adaptive-max-weight-decay apply to --adaptive-regularization only"),
      (["--early-stop", "eigenvalue", "--early-stop-factor", "nan"], "--early-stop-factor must be positive and finite, got nan"),
      (["--adaptive-regularization", "--adaptive-factor", "1"], "--adaptive-factor must be finite and greater than 1, got 1.0"),
      (["--adaptive-regularization", "--adaptive-max-weight-decay", "1e-4"], "leaves DARTS-ADA nothing to raise: it must exceed --weight-decay"),
      (["--early-stop", "eigenvalue", "--method", "p-darts"], "they are not for the stages of --method p-darts"),
    ]
    let root = try temporaryDirectory()
    for (options, message) in bad {
      let result = try runDarts(tiny + options + ["--run-dir", root.appendingPathComponent("bad").path])
      XCTAssertNotEqual(result.status, 0, "\(options)")
      XCTAssert(result.err.contains(message), "\(options): \(result.err)")
    }
    let help = try runDarts(["search", "--help"]).out
    for option in ["--hessian-every <hessian-every>", "--early-stop <early-stop>", "--adaptive-regularization", "--adaptive-max-weight-decay"] {
      XCTAssert(help.contains(option), option)
    }
  }

  private func events(in run: URL) throws -> [[String: Any]] {
    try String(contentsOf: run.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n")
      .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
  }

  private func assertSameFiles(_ reference: URL, _ resumed: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    for name in ["architecture.json", "genotype.json"] {
      XCTAssertEqual(
        try Data(contentsOf: reference.appendingPathComponent(name)), try Data(contentsOf: resumed.appendingPathComponent(name)),
        "\(name) differs after kill -9 and resume", file: file, line: line)
    }
  }
}
