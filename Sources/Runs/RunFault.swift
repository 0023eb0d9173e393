import Foundation
import TensorCore

/// A run stopped by a numeric fault: a loss, gradient, metric or tensor that is not finite.
/// Its description is one line naming the position, the quantity and what is left to resume
/// from, e.g. `epoch 0 step 3: after the step, tensor cells.1.… .running_var is not finite;
/// the last good checkpoint is runs/x/checkpoint.safetensors`.
public struct RunFault: Error, CustomStringConvertible, Equatable, Sendable {
  public let description: String

  public init(_ description: String) { self.description = description }
}

extension RunDirectory {
  /// What a stopped run leaves to resume from: its checkpoint when one was written (every
  /// checkpoint on disk is finite: `Checkpoint.save` refuses others), else that there is none.
  public var lastGoodCheckpoint: String {
    FileManager.default.fileExists(atPath: checkpointURL.path)
      ? "the last good checkpoint is \(checkpointURL.path)" : "no checkpoint was written yet"
  }

  /// Runs `body`; a ``NonFiniteError`` it throws stops the run as a ``RunFault`` at `position`
  /// (`epoch 2 step 7`, `epoch 2 evaluation`). Other errors pass unchanged.
  public func stoppingOnNonFinite<Result>(at position: @autoclosure () -> String, _ body: () throws -> Result) throws -> Result {
    do {
      return try body()
    } catch let error as NonFiniteError {
      throw RunFault("\(position()): \(error); \(lastGoodCheckpoint)")
    }
  }
}
