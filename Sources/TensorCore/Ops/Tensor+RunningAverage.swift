extension Tensor {
  /// One update of running statistics, as PyTorch's `BatchNorm` updates `running_mean` and
  /// `running_var` with `momentum`, element-wise and in place (copy-on-write):
  /// `r ← (1 − momentum)·r + momentum·batch·scale` (`scale` is the `n/(n−1)` unbiasing factor
  /// of a variance, 1 for a mean). `running` and `batch` have the same shape (any; `[C]` for
  /// batch norm) and backend; `running` drops its graph history.
  public static func runningAverageStep(_ running: inout Tensor, toward batch: Tensor, momentum: Float, scale: Float = 1) {
    precondition(batch.shape == running.shape, "running statistics of shape \(running.shape) updated with \(batch.shape)")
    let backend = sharedBackend(of: [running, batch])
    let count = running.count
    running.updateInPlace { backend.runningAverage($0, toward: batch.storage, count: count, momentum: momentum, scale: scale) }
  }
}
