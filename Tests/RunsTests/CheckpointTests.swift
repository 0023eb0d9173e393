import Foundation
import Runs
import TensorCore
import XCTest

private struct TrainingState: Codable, Equatable {
  var epoch: Int
  var step: Int
  var generator: SeededGenerator
  var optimizerSteps: [String: Int]
  var bestLoss: Double
}

private struct OtherState: Codable {
  var unrelated: String
}

private struct EncodingFailure: Error {}

/// A state whose encoding fails, to make a save fail.
private struct UnencodableState: Codable {
  func encode(to encoder: any Encoder) throws { throw EncodingFailure() }
}

final class CheckpointTests: XCTestCase {
  let backend = CPUBackend()

  func testRoundTripRestoresTensorsAndStateIncludingTheGenerator() throws {
    let run = try RunDirectory.create(at: makeTemporaryDirectory(self))
    var generator = SeededGenerator(seed: 42)
    _ = generator.next()
    let state = TrainingState(epoch: 3, step: 1170, generator: generator, optimizerSteps: ["weights": 1170, "alphas": 1170], bestLoss: .infinity)
    let tensors: [String: Tensor] = [
      "model.cells.0._ops.0._ops.4.op.1.weight": Tensor.randomNormal([4, 1, 3, 3], generator: &generator, on: backend),
      "model.stem.1.num_batches_tracked": Tensor(shape: [], scalars: [1170], on: backend),
      "alphas.normal": Tensor.randomNormal([14, 8], standardDeviation: 1e-3, generator: &generator, on: backend),
      "optimizer.momentum.stem.0.weight": Tensor.zeros([2, 3], on: backend),
    ]
    try Checkpoint(tensors: tensors, state: state).save(to: run.checkpointURL)

    let loaded = try Checkpoint<TrainingState>.load(from: run.checkpointURL, on: backend)
    XCTAssertEqual(loaded.state, state)
    XCTAssertEqual(Set(loaded.tensors.keys), Set(tensors.keys))
    for (name, tensor) in tensors {
      XCTAssertEqual(loaded.tensors[name]?.shape, tensor.shape, name)
      XCTAssertEqual(loaded.tensors[name]?.scalars, tensor.scalars, name)
    }
    var original = state.generator
    var restored = loaded.state.generator
    XCTAssertEqual((0..<4).map { _ in restored.next() }, (0..<4).map { _ in original.next() })
  }

  func testFailedSaveKeepsThePreviousCheckpoint() throws {
    let run = try RunDirectory.create(at: makeTemporaryDirectory(self))
    let state = TrainingState(epoch: 1, step: 10, generator: SeededGenerator(seed: 1), optimizerSteps: [:], bestLoss: 0.5)
    try Checkpoint(tensors: ["w": Tensor(shape: [1], scalars: [1], on: backend)], state: state).save(to: run.checkpointURL)
    XCTAssertThrowsError(
      try Checkpoint(tensors: ["w": Tensor(shape: [1], scalars: [2], on: backend)], state: UnencodableState())
        .save(to: run.checkpointURL))
    let loaded = try Checkpoint<TrainingState>.load(from: run.checkpointURL, on: backend)
    XCTAssertEqual(loaded.state, state)
    XCTAssertEqual(loaded.tensors["w"]?.scalars, [1])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.url.path), ["checkpoint.safetensors"])
  }

  /// A checkpoint holding a NaN or an infinity is never written (the previous one stays) and
  /// never read.
  func testNonFiniteTensorsAreNeitherSavedNorLoaded() throws {
    let run = try RunDirectory.create(at: makeTemporaryDirectory(self))
    let state = TrainingState(epoch: 1, step: 10, generator: SeededGenerator(seed: 1), optimizerSteps: [:], bestLoss: 0.5)
    let good = Tensor(shape: [3], scalars: [1, 2, 3], on: backend)
    try Checkpoint(tensors: ["w": good], state: state).save(to: run.checkpointURL)
    let before = try Data(contentsOf: run.checkpointURL)
    for bad in [Float.nan, .infinity, -.infinity] {
      let poisoned = Tensor(shape: [3], scalars: [1, bad, 3], on: backend)
      XCTAssertThrowsError(
        try Checkpoint(tensors: ["w": good, "cells.1.bn.running_var": poisoned], state: state).save(to: run.checkpointURL)
      ) { error in
        assertOneLine(error, naming: run.checkpointURL.path)
        XCTAssertEqual((error as? CheckpointError)?.problem, .nonFiniteTensorNotSaved("cells.1.bn.running_var"))
      }
      XCTAssertEqual(try Data(contentsOf: run.checkpointURL), before, "the previous checkpoint is kept")

      // A file written by other means (an older version, an editor) is refused on load.
      let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
      try Safetensors.write(
        ["w": good, "alphas": poisoned],
        metadata: [Checkpoint<TrainingState>.stateKey: json, Checkpoint<TrainingState>.formatKey: Checkpoint<TrainingState>.formatVersion],
        to: run.checkpointURL)
      XCTAssertThrowsError(try Checkpoint<TrainingState>.load(from: run.checkpointURL, on: backend)) { error in
        assertOneLine(error, naming: run.checkpointURL.path)
        XCTAssertEqual((error as? CheckpointError)?.problem, .nonFiniteTensor("alphas"))
      }
      try before.write(to: run.checkpointURL)
    }
  }

  /// The checkpoint a stopped run names exists: otherwise it says there is none.
  func testLastGoodCheckpointIsNamedOnlyWhenItExists() throws {
    let run = try RunDirectory.create(at: makeTemporaryDirectory(self))
    XCTAssertEqual(run.lastGoodCheckpoint, "no checkpoint was written yet")
    XCTAssertThrowsError(try run.stoppingOnNonFinite(at: "epoch 0 step 0") { try NonFiniteError.check(Float.nan, "the training loss") }) { error in
      XCTAssertEqual("\(error)", "epoch 0 step 0: the training loss is nan; no checkpoint was written yet")
    }
    let state = TrainingState(epoch: 0, step: 1, generator: SeededGenerator(seed: 1), optimizerSteps: [:], bestLoss: 0.5)
    try Checkpoint(tensors: ["w": Tensor(shape: [1], scalars: [1], on: backend)], state: state).save(to: run.checkpointURL)
    XCTAssertEqual(run.lastGoodCheckpoint, "the last good checkpoint is \(run.checkpointURL.path)")
    XCTAssertEqual(try run.stoppingOnNonFinite(at: "epoch 0 step 1") { 7 }, 7)
  }

  func testLoadReportsTruncatedAndForeignFilesInOneLine() throws {
    let run = try RunDirectory.create(at: makeTemporaryDirectory(self))
    let url = run.checkpointURL
    let state = TrainingState(epoch: 1, step: 10, generator: SeededGenerator(seed: 1), optimizerSteps: [:], bestLoss: 0.5)
    try Checkpoint(tensors: ["w": Tensor.zeros([64], on: backend)], state: state).save(to: url)
    let bytes = try Data(contentsOf: url)

    try bytes.prefix(bytes.count - 10).write(to: url)
    XCTAssertThrowsError(try Checkpoint<TrainingState>.load(from: url, on: backend)) { error in
      guard case .truncatedData = (error as? SafetensorsError)?.problem else { return XCTFail("\(error)") }
      assertOneLine(error, naming: url.path)
    }

    try Safetensors.write(["w": Tensor.zeros([1], on: backend)], to: url)
    XCTAssertThrowsError(try Checkpoint<TrainingState>.load(from: url, on: backend)) { error in
      XCTAssertEqual((error as? CheckpointError)?.problem, .missingState)
      assertOneLine(error, naming: url.path)
    }

    try Checkpoint(tensors: [:], state: OtherState(unrelated: "x")).save(to: url)
    XCTAssertThrowsError(try Checkpoint<TrainingState>.load(from: url, on: backend)) { error in
      guard case .invalidState = (error as? CheckpointError)?.problem else { return XCTFail("\(error)") }
      assertOneLine(error, naming: url.path)
    }
  }

  func testPeakResidentMemoryIsReported() throws {
    let peak = try XCTUnwrap(ProcessMemory.peakResidentBytes())
    XCTAssertGreaterThan(peak, 1 << 20)
  }
}
