import Foundation
import XCTest

/// `darts search` through the binary: a short run on the demo data, exact resume after
/// `kill -9`, and bad input.
final class SearchCLITests: XCTestCase {
  /// A tiny search on the shipped demo images (a few seconds).
  let tiny = [
    "search", "--limit", "256", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "4", "--checkpoint-every", "1", "--threads", "2",
  ]

  func testShortSearchWritesTheRunDirectory() throws {
    let run = try temporaryDirectory().appendingPathComponent("run")
    let result = try runDarts(tiny + ["--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    for file in ["config.json", "events.jsonl", "genotype.json", "architecture.json", "checkpoint.safetensors"] {
      XCTAssert(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), file)
    }
    let genotype = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("genotype.json"))) as! [String: Any]
    XCTAssertEqual((genotype["normal"] as! [[Any]]).count, 8)
    let events = try String(contentsOf: run.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n")
    let objects = try events.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    XCTAssertEqual(objects.filter { $0["type"] as? String == "step" }.count, 8)
    XCTAssertEqual(objects.filter { $0["type"] as? String == "epoch" }.count, 2)
    XCTAssertEqual(objects.map { $0["event"] as! Int }, Array(0..<objects.count))
    let architecture = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("architecture.json"))) as! [String: Any]
    XCTAssertNotNil(architecture["alphas_normal"])
    XCTAssertNotNil(architecture["alphas_reduce"])
  }

  func testPartialChannelSearchWithEdgeNormalization() throws {
    let run = try temporaryDirectory().appendingPathComponent("pc")
    let result = try runDarts(tiny + ["--method", "pc-darts", "--arch-warmup-epochs", "1", "--validate-epochs", "1", "--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    let architecture = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("architecture.json"))) as! [String: Any]
    let betas = try XCTUnwrap(architecture["betas_normal"] as? [String: Any])
    XCTAssertEqual(betas["shape"] as? [Int], [14])
    let config = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as! [String: Any]
    XCTAssertEqual(config["partialChannels"] as? Int, 4)
    XCTAssertEqual(config["edgeNormalization"] as? Bool, true)
    let epochs = try events(in: run).filter { $0["type"] as? String == "epoch" }
    XCTAssertEqual(epochs.map { $0["valid_accuracy"] != nil }, [false, true], "--validate-epochs 1: after the last epoch only")
    let pDarts = try runDarts(["search", "--method", "p-darts", "--order", "2"])
    XCTAssertNotEqual(pDarts.status, 0)
    XCTAssert(pDarts.err.contains("first order only"), pDarts.err)
  }

  /// A tiny three-stage P-DARTS search (3, 4 and 5 cells). Its α half (26 images, 2 batches)
  /// is used up before the 3 steps of an epoch end, so each epoch restarts the α permutation.
  var tinyProgressive: [String] {
    tiny + ["--method", "p-darts", "--add-layers", "1", "2", "--arch-warmup-epochs", "1", "--epochs", "2", "--max-steps-per-epoch", "3",
            "--train-portion", "0.9"]
  }

  func events(in run: URL) throws -> [[String: Any]] {
    try String(contentsOf: run.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n")
      .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
  }

  func testProgressiveSearchRunsThreeStages() throws {
    let run = try temporaryDirectory().appendingPathComponent("p")
    let result = try runDarts(tinyProgressive + ["--skip-dropout", "0.1", "0.4", "0.7", "--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    XCTAssert(result.out.contains("stage 3/3"), result.out)
    XCTAssert(result.out.contains("genotype without the skip cap"), result.out)
    let genotype = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("genotype.json"))) as! [String: Any]
    let normal = genotype["normal"] as! [[Any]]
    XCTAssertEqual(normal.count, 8)
    XCTAssertLessThanOrEqual(normal.filter { $0[0] as? String == "skip_connect" }.count, 2)
    for node in 0..<4 {  // P-DARTS emits a node's edges by ascending source
      XCTAssertLessThan(normal[2 * node][1] as! Int, normal[2 * node + 1][1] as! Int)
    }
    let architecture = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("architecture.json"))) as! [String: Any]
    let stages = try XCTUnwrap(architecture["stages"] as? [[String: Any]])
    XCTAssertEqual(stages.map { $0["layers"] as? Int }, [3, 4, 5])
    XCTAssertEqual(stages.map { (($0["alphas_normal"] as? [String: Any])?["shape"] as? [Int]) }, [[14, 8], [14, 5], [14, 3]])
    XCTAssertEqual(stages.map { (($0["reduce_operations"] as? [[String]])?.first?.count) }, [8, 5, 3])
    let objects = try events(in: run)
    XCTAssertEqual(objects.filter { $0["type"] as? String == "epoch" }.compactMap { $0["stage"] as? Int }, [0, 0, 1, 1, 2, 2])
    XCTAssertEqual(objects.filter { $0["type"] as? String == "stage_start" }.count, 2)
    let rates = objects.filter { $0["type"] as? String == "epoch_start" }.map { $0["skip_dropout"] as? Double }
    // r·(E−e−1)/E in the warm-up epoch, r from the first α epoch on (E = 2, 1 warm-up epoch).
    for (rate, expected) in zip(rates, [0.05, 0.1, 0.2, 0.4, 0.35, 0.7]) { XCTAssertEqual(rate ?? -1, expected, accuracy: 1e-6) }
    XCTAssertEqual(objects.filter { $0["type"] as? String == "genotype" }.first?["max_skip"] is NSNull, true)
  }

  func testProgressiveResumeAcrossAStageIsBitIdentical() throws {
    let root = try temporaryDirectory()
    let reference = root.appendingPathComponent("reference")
    XCTAssertEqual(try runDarts(tinyProgressive + ["--run-dir", reference.path]).status, 0)

    let interrupted = root.appendingPathComponent("interrupted")
    // Kill -9 once stage 1 has ended (its last checkpoint, or the first of stage 2, is on disk).
    try runDartsKilled(tinyProgressive + ["--run-dir", interrupted.path], run: interrupted, onceEventsContain: "stage_start")
    let resumed = try runDarts(["search", "--resume", interrupted.path])
    XCTAssertEqual(resumed.status, 0, resumed.err)
    try assertSameArchitecture(reference, interrupted)
    let steps = try events(in: interrupted).compactMap { $0["type"] as? String == "step" ? $0["global_step"] as? Int : nil }
    XCTAssertEqual(steps, Array(1...18))
  }

  func testResumeAfterKillIsBitIdentical() throws {
    let (reference, interrupted) = try uninterruptedAndResumedRuns(tiny)
    let a = try Data(contentsOf: reference.appendingPathComponent("architecture.json"))
    let b = try Data(contentsOf: interrupted.appendingPathComponent("architecture.json"))
    XCTAssertEqual(a, b, "final α differ after kill -9 and resume")
    XCTAssertEqual(
      try Data(contentsOf: reference.appendingPathComponent("genotype.json")),
      try Data(contentsOf: interrupted.appendingPathComponent("genotype.json")))
    // The resumed log has every step exactly once.
    let events = try String(contentsOf: interrupted.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n")
    let steps = try events.compactMap { line -> Int? in
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
      return object["type"] as? String == "step" ? object["global_step"] as? Int : nil
    }
    XCTAssertEqual(steps, Array(1...8))
  }

  func testBadInputGivesOneLineErrors() throws {
    let root = try temporaryDirectory()
    // An existing, non-empty run directory without --resume.
    let existing = root.appendingPathComponent("existing")
    try FileManager.default.createDirectory(at: existing, withIntermediateDirectories: true)
    try Data("x".utf8).write(to: existing.appendingPathComponent("file"))
    var result = try runDarts(tiny + ["--run-dir", existing.path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains(existing.path), result.err)

    // A dataset directory without the files.
    result = try runDarts(tiny + ["--dataset", "cifar10", "--data", root.path, "--run-dir", root.appendingPathComponent("r2").path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains(root.path), result.err)
    XCTAssertEqual(result.err.split(separator: "\n").count, 1, result.err)
    XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("r2").path), "no run directory for unusable data")

    // Resume of a directory with a corrupt checkpoint.
    let run = root.appendingPathComponent("run")
    XCTAssertEqual(try runDarts(tiny + ["--run-dir", run.path, "--epochs", "1", "--max-steps-per-epoch", "1"]).status, 0)
    let checkpoint = run.appendingPathComponent("checkpoint.safetensors")
    let bytes = try Data(contentsOf: checkpoint)
    try bytes.prefix(bytes.count / 2).write(to: checkpoint)
    result = try runDarts(["search", "--resume", run.path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains("checkpoint.safetensors"), result.err)

    // Resume of a directory that does not exist; invalid option values.
    result = try runDarts(["search", "--resume", root.appendingPathComponent("nope").path])
    XCTAssertNotEqual(result.status, 0)
    XCTAssert(result.err.contains("nope"), result.err)
    result = try runDarts(["search", "--partial-channels", "3"])
    XCTAssertNotEqual(result.status, 0)
  }
  /// S1 (a fixed pair per edge) with β-DARTS at λ(e) = 50·e: the space and the term in
  /// config.json, λ and the collapse diagnostics in every epoch event and progress line, and
  /// a genotype whose every operation is one of its edge's pair.
  func testS1SearchWithBetaRegularizationReportsCollapseDiagnostics() throws {
    let run = try temporaryDirectory().appendingPathComponent("s1")
    let result = try runDarts(tiny + ["--space", "s1", "--regularizer", "beta", "--beta-lambda-divisor", "1", "--run-dir", run.path])
    XCTAssertEqual(result.status, 0, result.err)
    let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json"))) as? [String: Any])
    XCTAssertEqual(config["space"] as? String, "s1")
    XCTAssertEqual(config["betaRegularization"] as? [String: Double], ["lambdaMax": 50, "lambdaDivisor": 1])
    let epochs = try events(in: run).filter { $0["type"] as? String == "epoch" }
    XCTAssertEqual(epochs.map { $0["beta_lambda"] as? Double }, [0, 50])
    for epoch in epochs {
      for cell in ["normal", "reduce"] {
        let skips = try XCTUnwrap(epoch["\(cell)_skip_connects"] as? Int)
        let free = try XCTUnwrap(epoch["\(cell)_parameter_free"] as? Int)
        let entropy = try XCTUnwrap(epoch["\(cell)_alpha_entropy"] as? Double)
        XCTAssert(skips <= free && free <= 8, "\(cell): \(skips) skips, \(free) parameter-free")
        XCTAssert(entropy > 0 && entropy <= log(2) + 1e-9, "\(cell): entropy \(entropy) of 2-operation rows")
      }
    }
    XCTAssertEqual(result.out.components(separatedBy: "  normal skip ").count - 1, 2, result.out)
    let help = try runDarts(["search", "--help"]).out
    for option in ["--space <space>", "--regularizer <regularizer>", "--beta-lambda-max <beta-lambda-max>", "--beta-lambda-divisor <beta-lambda-divisor>"] {
      XCTAssert(help.contains(option), option)
    }
    let genotype = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("genotype.json"))) as? [String: Any])
    let architecture = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("architecture.json"))) as? [String: Any])
    for cell in ["normal", "reduce"] {
      let pairs = try XCTUnwrap(architecture["\(cell)_operations"] as? [[String]])
      XCTAssertEqual(pairs.count, 14)
      let edges = try XCTUnwrap(genotype[cell] as? [[Any]])
      for (i, edge) in edges.enumerated() {
        // Node 2 + i/2 has edges starting at Σ_{j < i/2} (2 + j).
        let index = (0..<(i / 2)).reduce(0) { $0 + 2 + $1 } + (edge[1] as! Int)
        XCTAssert(pairs[index].contains(edge[0] as! String), "\(cell) edge \(index): \(edge[0]) not in \(pairs[index])")
      }
    }
  }

  /// S4's noise and β-DARTS survive kill -9 and resume bit-identically.
  func testNoiseSpaceWithBetaRegularizationResumesBitIdentically() throws {
    let (reference, interrupted) = try uninterruptedAndResumedRuns(tiny + ["--space", "s4", "--regularizer", "beta", "--beta-lambda-divisor", "1"])
    try assertSameArchitecture(reference, interrupted)
    let epochs = { (run: URL) in try self.events(in: run).filter { $0["type"] as? String == "epoch" }.map { $0["valid_loss"] as? Double } }
    XCTAssertEqual(try epochs(reference), try epochs(interrupted), "the noisy evaluation is keyed by the epoch")
  }

  /// SDARTS-RS: the option in config.json, ε of each epoch in its event, and kill -9 and
  /// resume bit-identical (the noise is keyed by the position).
  func testRandomPerturbationResumesBitIdentically() throws {
    let (reference, interrupted) = try uninterruptedAndResumedRuns(tiny + ["--space", "darts-no-none", "--perturb", "random", "--perturb-epsilon", "0.5"])
    try assertSameArchitecture(reference, interrupted)
    let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: reference.appendingPathComponent("config.json"))) as? [String: Any])
    let perturbation = try XCTUnwrap(config["perturbation"] as? [String: Any])
    XCTAssertEqual(perturbation["kind"] as? String, "random")
    XCTAssertEqual(perturbation["epsilonMax"] as? Double, 0.5)
    XCTAssertEqual(perturbation["epsilonStart"] as? Double, 0.03)
    let epochs = { (run: URL) in try self.events(in: run).filter { $0["type"] as? String == "epoch" } }
    let epsilons = try epochs(reference).map { try XCTUnwrap($0["perturb_epsilon"] as? Double) }
    XCTAssertEqual(epsilons.count, 2)
    XCTAssertEqual(epsilons[0], 0.03, accuracy: 1e-12)
    XCTAssertEqual(epsilons[1], 0.265, accuracy: 1e-12, "0.03 + (0.5 − 0.03)·1/2")
    XCTAssertEqual(try epochs(reference).map { $0["valid_loss"] as? Double }, try epochs(interrupted).map { $0["valid_loss"] as? Double })
  }

  /// SDARTS-ADV on PC-DARTS resumes bit-identically after kill -9 and reports its attacks;
  /// bad perturbation options are one error line each.
  func testAdversarialPerturbationOnPCDARTSResumesAndBadPerturbationOptions() throws {
    let (run, interrupted) = try uninterruptedAndResumedRuns(tiny + ["--method", "pc-darts", "--perturb", "adversarial"])
    try assertSameArchitecture(run, interrupted)
    let epochs = try events(in: run).filter { $0["type"] as? String == "epoch" }
    XCTAssertEqual(epochs.map { $0["perturb"] as? String }, ["adversarial", "adversarial"])
    let steps = try events(in: run).filter { $0["type"] as? String == "step" }
    XCTAssertEqual(steps.count, 8)
    XCTAssert(steps.allSatisfy { $0["attack_kept"] is Bool }, "every step reports whether its attack was kept")
    let help = try runDarts(["search", "--help"]).out
    for option in ["--perturb <perturb>", "--perturb-epsilon <perturb-epsilon>", "--perturb-epsilon-start <perturb-epsilon-start>"] {
      XCTAssert(help.contains(option), option)
    }
    let bad: [([String], String)] = [
      (["--perturb-epsilon", "0.1"], "--perturb-epsilon and --perturb-epsilon-start apply to --perturb random or adversarial only"),
      (["--perturb", "random", "--perturb-epsilon", "-1"], "--perturb-epsilon must be finite and not negative, got -1.0"),
      (["--perturb", "adversarial", "--perturb-epsilon-start", "1.5"], "--perturb-epsilon and --perturb-epsilon-start must be at most 1 (a probability)"),
      (["--perturb", "sideways"], "--perturb must be none, random or adversarial, got 'sideways'"),
    ]
    let root = try temporaryDirectory()
    for (options, message) in bad {
      let result = try runDarts(tiny + options + ["--run-dir", root.appendingPathComponent("bad").path])
      XCTAssertNotEqual(result.status, 0, "\(options)")
      XCTAssert(result.err.contains(message), "\(options): \(result.err)")
    }
  }

  /// DARTS- (`--auxiliary-skip`): the option in config.json, β of each epoch in its event,
  /// kill -9 and resume bit-identical; bad skip options are one error line each.
  func testAuxiliarySkipResumesBitIdenticallyAndBadAuxiliarySkipOptions() throws {
    let (reference, interrupted) = try uninterruptedAndResumedRuns(tiny + ["--auxiliary-skip", "--auxiliary-skip-decay", "cosine"])
    try assertSameArchitecture(reference, interrupted)
    let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: reference.appendingPathComponent("config.json"))) as? [String: Any])
    let skip = try XCTUnwrap(config["auxiliarySkip"] as? [String: Any])
    XCTAssertEqual(skip["decay"] as? String, "cosine")
    XCTAssertEqual(skip["initial"] as? Double, 1)
    let epochs = { (run: URL) in try self.events(in: run).filter { $0["type"] as? String == "epoch" } }
    XCTAssertEqual(try epochs(reference).map { $0["auxiliary_skip_beta"] as? Double }, [1, 0.5], "(1 + cos(πe/2))/2 rounds to 0.5")
    XCTAssertEqual(try epochs(reference).map { $0["valid_loss"] as? Double }, try epochs(interrupted).map { $0["valid_loss"] as? Double })
    let help = try runDarts(["search", "--help"]).out
    for option in ["--auxiliary-skip", "--auxiliary-skip-decay <auxiliary-skip-decay>", "--auxiliary-skip-beta <auxiliary-skip-beta>"] {
      XCTAssert(help.contains(option), option)
    }
    let bad: [([String], String)] = [
      (["--auxiliary-skip-beta", "0.5"], "--auxiliary-skip-decay and --auxiliary-skip-beta apply to --auxiliary-skip only"),
      (["--auxiliary-skip-decay", "linear"], "--auxiliary-skip-decay and --auxiliary-skip-beta apply to --auxiliary-skip only"),
      (["--auxiliary-skip", "--auxiliary-skip-beta", "-1"], "--auxiliary-skip-beta must be finite and not negative, got -1.0"),
      (["--auxiliary-skip", "--auxiliary-skip-beta", "nan"], "--auxiliary-skip-beta must be finite and not negative, got nan"),
      (["--auxiliary-skip", "--auxiliary-skip-decay", "fast"], "--auxiliary-skip-decay must be linear, cosine, slow-cosine or constant, got 'fast'"),
      (["--auxiliary-skip", "--method", "pc-darts"], "--auxiliary-skip works on whole edges: use --partial-channels 1 (got 4;"),
    ]
    let root = try temporaryDirectory()
    for (options, message) in bad {
      let result = try runDarts(tiny + options + ["--run-dir", root.appendingPathComponent("bad").path])
      XCTAssertNotEqual(result.status, 0, "\(options)")
      XCTAssert(result.err.contains(message), "\(options): \(result.err)")
      XCTAssertEqual(result.err.split(separator: "\n").filter { $0.hasPrefix("Error:") || $0.hasPrefix("error:") }.count, 1, "\(options): \(result.err)")
    }
  }
}

extension SearchCLITests {
  /// `architecture.json` and `genotype.json` of two runs are byte for byte the same.
  func assertSameArchitecture(_ reference: URL, _ resumed: URL, file: StaticString = #filePath, line: UInt = #line) throws {
    for name in ["architecture.json", "genotype.json"] {
      XCTAssertEqual(
        try Data(contentsOf: reference.appendingPathComponent(name)), try Data(contentsOf: resumed.appendingPathComponent(name)),
        "\(name) differs after kill -9 and resume", file: file, line: line)
    }
  }
}
