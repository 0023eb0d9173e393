import Foundation
import XCTest

/// `--backend` through the binary: the same tiny demo search and training run on the CPU
/// backend and on the reference backend, whose losses, α and final accuracy agree within float
/// reordering.
final class BackendCLITests: XCTestCase {
  /// A demo search small enough for the plain loops: 64 + 64 images, C = 4, 3 cells, 2 epochs
  /// of 2 steps (α trained in the second), α-split accuracy after each epoch.
  let tinySearch = [
    "search", "--limit", "128", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
    "--epochs", "2", "--max-steps-per-epoch", "2", "--arch-warmup-epochs", "1", "--threads", "2",
  ]

  func testSearchOnTheReferenceBackendMatchesTheCPUBackend() throws {
    let directory = try temporaryDirectory()
    var runs: [String: URL] = [:]
    for backend in ["cpu", "reference"] {
      let run = directory.appendingPathComponent(backend)
      let result = try runDarts(tinySearch + ["--backend", backend, "--run-dir", run.path])
      XCTAssertEqual(result.status, 0, "\(backend): \(result.err)")
      runs[backend] = run
    }
    let (cpu, reference) = (try events(in: runs["cpu"]!), try events(in: runs["reference"]!))
    XCTAssertEqual(cpu.count, reference.count)
    // Step losses after up to 4 SGD/Adam steps: float reordering grows from ~1e-7 per kernel
    // to a few 1e-5 here; 1e-3 is far below the loss changes between steps (~0.1).
    let losses = { (events: [[String: Any]]) in events.compactMap { $0["type"] as? String == "step" ? $0["loss"] as? Double : nil } }
    XCTAssertEqual(losses(cpu).count, 4)
    for (a, b) in zip(losses(cpu), losses(reference)) { XCTAssertEqual(a, b, accuracy: 1e-3) }
    XCTAssertNotEqual(losses(cpu)[0], losses(cpu)[3], "the steps changed the weights")
    // α after two Adam steps of lr 3e-3 (β₁ = 0.5), moved about 6e-3 from its initial 1e-3
    // scale. Adam divides by √v, so a gradient component near zero moves by about ±lr whatever
    // its size, and float reordering in such components shows up as up to a fifth of a step
    // (6e-4 measured): the α gradients themselves are compared tightly in the backend-
    // equivalence tests. Here: every entry within half a step, and the two α vectors aligned.
    let alphas = { (run: URL) throws -> [Double] in
      let architecture = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("architecture.json"))) as! [String: Any]
      return ((architecture["alphas_normal"] as! [String: Any])["raw"] as! [Double])
    }
    let (alphaCPU, alphaReference) = (try alphas(runs["cpu"]!), try alphas(runs["reference"]!))
    XCTAssertEqual(alphaCPU.count, 14 * 8)
    for (a, b) in zip(alphaCPU, alphaReference) { XCTAssertEqual(a, b, accuracy: 1.5e-3) }
    let dot = zip(alphaCPU, alphaReference).map(*).reduce(0, +)
    let norms = (alphaCPU.map { $0 * $0 }.reduce(0, +) * alphaReference.map { $0 * $0 }.reduce(0, +)).squareRoot()
    XCTAssertGreaterThan(dot / norms, 0.99, "cosine of the two α vectors")
  }

  /// A DARTS_V2 training run small enough for the plain loops: auxiliary head, and drop path
  /// (0 in the first epoch, 0.1 in the second, as it ramps up).
  func testTrainingOnTheReferenceBackendMatchesTheCPUBackend() throws {
    let directory = try temporaryDirectory()
    var losses: [String: [Double]] = [:]
    for backend in ["cpu", "reference"] {
      let run = directory.appendingPathComponent(backend)
      let result = try runDarts([
        "train", "--limit", "64", "--test-limit", "32", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
        "--epochs", "2", "--max-steps-per-epoch", "2", "--auxiliary-weight", "0.4", "--drop-path", "0.2", "--threads", "2",
        "--backend", backend, "--run-dir", run.path,
      ])
      XCTAssertEqual(result.status, 0, "\(backend): \(result.err)")
      losses[backend] = try events(in: run).compactMap { $0["type"] as? String == "step" ? $0["loss"] as? Double : nil }
    }
    XCTAssertEqual(losses["cpu"]?.count, 4)
    // Four SGD steps from the same weights, batches and drop-path draws (see the search test).
    for (a, b) in zip(losses["cpu"]!, losses["reference"]!) { XCTAssertEqual(a, b, accuracy: 1e-3) }
    XCTAssertNotEqual(losses["cpu"]![0], losses["cpu"]![3], "the steps changed the weights")
  }

  func testBackendFlagIsCheckedAndListed() throws {
    let bad = try runDarts(["search", "--backend", "gpu"])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssert(bad.err.contains("cpu") && bad.err.contains("reference"), bad.err)
    for command in [["search"], ["train"], ["test"], ["bench", "search"], ["bench", "train"], ["genotype", "params"]] {
      let help = try runDarts(command + ["--help"])
      XCTAssert(help.out.contains("--backend"), "\(command.joined(separator: " ")) --help lists --backend")
    }
  }

  func events(in run: URL) throws -> [[String: Any]] {
    try String(contentsOf: run.appendingPathComponent("events.jsonl"), encoding: .utf8).split(separator: "\n")
      .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
  }
}
