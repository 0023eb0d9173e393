import CPUKernels

/// A backend whose buffers are host memory from a `BufferCache` (both CPU backends): tensors
/// are created and read by plain copies, and files are written straight from the buffers.
public protocol HostMemoryBackend: Backend {
  /// The caching allocator of this backend's buffers.
  var cache: BufferCache { get }
}

extension HostMemoryBackend {
  public var memory: any MemoryAccounting { cache }

  public func allocate(_ count: Int) -> TensorStorage {
    TensorStorage(count: count, cache: cache)
  }

  public func upload(_ source: UnsafeBufferPointer<Float>, to storage: TensorStorage) {
    precondition(source.count <= storage.count, "uploading \(source.count) values into a buffer of \(storage.count)")
    guard let base = source.baseAddress else { return }
    storage.pointer.update(from: base, count: source.count)
  }

  public func withHostElements<R>(of storage: TensorStorage, count: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: storage.pointer, count: count))
  }

  /// Rows of softmax logits are short: the plain loop is the kernel of both host backends.
  public func rowMaximum(_ x: TensorStorage, rows: Int, length: Int, out: TensorStorage) {
    ReferenceReductions.rowMaximum(x.pointer, rows: rows, length: length, output: out.pointer)
  }

  /// `[C]`-sized: the plain loop is the kernel of both host backends.
  public func batchNormCoefficients(
    mean: TensorStorage, variance: TensorStorage, gamma: TensorStorage?, beta: TensorStorage?, epsilon: Float,
    channels: Int, invStd: TensorStorage, scale: TensorStorage, shift: TensorStorage
  ) {
    ReferenceBatchNorm.coefficients(
      mean: mean.pointer, variance: variance.pointer, gamma: gamma.map { UnsafePointer($0.pointer) },
      beta: beta.map { UnsafePointer($0.pointer) }, epsilon: epsilon, channels: channels,
      invStd: invStd.pointer, scale: scale.pointer, shift: shift.pointer)
  }

  /// `[C]`-sized: the plain loop is the kernel of both host backends.
  public func runningAverage(_ running: TensorStorage, toward batch: TensorStorage, count: Int, momentum: Float, scale: Float) {
    ReferenceElementwise.runningAverage(running.pointer, toward: batch.pointer, count: count, momentum: momentum, scale: scale)
  }
}
