import TensorCore

extension EpochCursor {
  /// One line naming the first field of the cursor that cannot belong to a run of
  /// `totalEpochs` epochs of `stepsPerEpoch` steps, or nil. The position may be
  /// `(totalEpochs, 0)`: the run has finished.
  public func problem(totalEpochs: Int, stepsPerEpoch: Int) -> String? {
    if !(0...totalEpochs).contains(position.epoch) { return "the resume position's epoch \(position.epoch) is outside 0...\(totalEpochs)" }
    if !(0..<stepsPerEpoch).contains(position.step) { return "the resume position's step \(position.step) is outside 0..<\(stepsPerEpoch)" }
    if position.epoch == totalEpochs && position.step != 0 { return "the resume position (\(position.epoch), \(position.step)) is past the last epoch" }
    if completedSteps < 0 { return "completed_steps is negative (\(completedSteps))" }
    if epochSeen < 0 || !(0...epochSeen).contains(epochCorrect) {
      return "the epoch totals (\(epochCorrect) correct of \(epochSeen) images) are impossible"
    }
    if !epochLoss.isFinite || epochLoss < 0 { return "the epoch's loss sum \(epochLoss) is not a finite non-negative number" }
    return nil
  }
}

/// One line naming the first optimiser buffer in `buffers` that belongs to no parameter in
/// `shapes` (by name) or has another shape than it, or nil. `what` names the buffers
/// ("momentum buffer").
public func optimizerStateProblem(_ buffers: [String: Tensor], shapes: [String: [Int]], what: String) -> String? {
  for (name, buffer) in buffers.sorted(by: { $0.key < $1.key }) {
    guard let shape = shapes[name] else { return "\(what) \(name) belongs to no parameter of the network" }
    if buffer.shape != shape { return "\(what) \(name) has shape \(buffer.shape), its parameter \(shape)" }
  }
  return nil
}
