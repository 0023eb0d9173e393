/// A dense, row-major float32 tensor (NCHW for images) with value semantics.
///
/// A tensor is an immutable view of a backend storage plus, when it takes part in automatic
/// differentiation, a node of the computation graph. Operations return new tensors; the graph
/// is recorded only while gradient recording is on (see `withoutGradients`) and only for
/// operations with at least one input that requires a gradient.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
  /// The extent of each axis, outermost first. `[]` is a scalar.
  public let shape: [Int]
  /// The element buffer (at least `count` floats). The values of a deferred tensor
  /// (`deferredValues`) are formed here on first use.
  public var storage: TensorStorage { heldStorage ?? deferredValues!.storage }
  /// The buffer; nil only while the values are deferred.
  private var heldStorage: TensorStorage?
  /// Where the storage lives and the kernels run.
  public let backend: any Backend
  /// The graph node that produced this tensor, or the leaf node of a tensor that requires a
  /// gradient; nil for constants.
  private(set) var node: GradientNode?
  /// Set only on a gradient contribution of the reverse pass that covers some channels of its
  /// input and is zero on the others: the tensor then holds just those channels, and the
  /// contribution is summed into the input's gradient without forming the zeros (see
  /// `accumulatedGradient`).
  private(set) var embedding: ChannelEmbedding?
  /// Set only on the output of a training-mode batch normalisation with γ/β while the graph is
  /// recorded: the values are formed from the normalisation's input when first read, and a
  /// depthwise convolution never reads them (it maps the input as it reads it).
  private var deferredValues: DeferredChannelAffine?
  /// The recipe that recomputes a deferred tensor's values from the normalisation's input,
  /// which operations save instead of the values (`SavedActivation`), or nil.
  var recomputation: ChannelAffineRecomputation? { deferredValues?.recipe }

  init(shape: [Int], storage: TensorStorage, backend: any Backend, node: GradientNode? = nil) {
    self.shape = shape
    self.heldStorage = storage
    self.backend = backend
    self.node = node
  }

  /// A tensor of `shape` whose values `recipe` forms when they are first read.
  init(shape: [Int], deferring recipe: ChannelAffineRecomputation, on backend: any Backend) {
    self.shape = shape
    self.backend = backend
    deferredValues = DeferredChannelAffine(recipe, count: shape.reduce(1, *), on: backend)
  }

  /// These values (deferred or not) with `node` as their graph node.
  func withNode(_ node: GradientNode) -> Tensor {
    var result = self
    result.node = node
    return result
  }

  /// Where a gradient contribution of channels `channels` sits in its input of `shape`.
  struct ChannelEmbedding {
    let channels: Range<Int>
    let shape: [Int]
  }

  /// This tensor (no copy) as the gradient contribution that is this tensor on channels
  /// `channels` of a tensor of `shape` and zero elsewhere.
  func embedded(inChannels channels: Range<Int>, of shape: [Int]) -> Tensor {
    var result = Tensor(shape: self.shape, storage: storage, backend: backend)
    result.embedding = ChannelEmbedding(channels: channels, shape: shape)
    return result
  }

  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }
  /// Number of axes.
  public var rank: Int { shape.count }
  /// True if gradients can be taken with respect to this tensor or flow through it.
  public var requiresGradient: Bool { node != nil }

  /// The elements in row-major order.
  public var scalars: [Float] { backend.withHostElements(of: storage, count: count) { Array($0) } }

  /// Calls `body` with the elements as host bytes: `count` float32 values in row-major order,
  /// in the machine's byte order (little-endian on every supported platform), valid only
  /// during the call. This is the copy-out for writing tensors to files: the host backends
  /// lend their storage without a copy; a device backend implements it as one device-to-host
  /// transfer into a host buffer (`Backend.withHostElements`).
  public func withHostBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try backend.withHostElements(of: storage, count: count) { try body(UnsafeRawBufferPointer($0)) }
  }

  /// The single element of a one-element tensor.
  public var scalar: Float {
    precondition(count == 1, "scalar of a tensor with \(count) elements")
    return backend.withHostElements(of: storage, count: 1) { $0[0] }
  }

  public var description: String {
    let values = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
    return "Tensor\(shape)[\(values)\(count > 8 ? ", …" : "")]"
  }

  // MARK: Creation

  /// A tensor holding `scalars` (row-major) with `shape`.
  public init(shape: [Int], scalars: [Float], on backend: any Backend) {
    precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(scalars.count)")
    let storage = backend.allocate(scalars.count)
    scalars.withUnsafeBufferPointer { backend.upload($0, to: storage) }
    self.init(shape: shape, storage: storage, backend: backend)
  }

  /// A tensor of `shape` filled with `value`.
  public init(repeating value: Float, shape: [Int], on backend: any Backend) {
    let storage = backend.allocate(shape.reduce(1, *))
    backend.fill(BufferPosition(storage), value: value, count: shape.reduce(1, *))
    self.init(shape: shape, storage: storage, backend: backend)
  }

  /// Zeros of `shape`.
  public static func zeros(_ shape: [Int], on backend: any Backend) -> Tensor {
    Tensor(repeating: 0, shape: shape, on: backend)
  }

  /// Standard normal samples scaled by `standardDeviation`, drawn from `generator`.
  public static func randomNormal(
    _ shape: [Int], standardDeviation: Float = 1, generator: inout SeededGenerator,
    on backend: any Backend
  ) -> Tensor {
    let values = (0..<shape.reduce(1, *)).map { _ in generator.nextNormal() * standardDeviation }
    return Tensor(shape: shape, scalars: values, on: backend)
  }

  /// Uniform samples in `[low, high)` drawn from `generator`.
  public static func randomUniform(
    _ shape: [Int], low: Float, high: Float, generator: inout SeededGenerator,
    on backend: any Backend
  ) -> Tensor {
    let values = (0..<shape.reduce(1, *)).map { _ in low + (high - low) * generator.nextUniform() }
    return Tensor(shape: shape, scalars: values, on: backend)
  }

  /// An uninitialised tensor (every element must be written before it is read).
  static func uninitialized(_ shape: [Int], on backend: any Backend) -> Tensor {
    Tensor(shape: shape, storage: backend.allocate(shape.reduce(1, *)), backend: backend)
  }

  /// The backend shared by the operands of one operation: every operation with more than one
  /// tensor operand gets it here. Operands on different backends are a programming error (the
  /// program chooses one backend per run; no input can cause it), so this stops with a message
  /// naming both backends instead of letting a kernel read memory it cannot address.
  static func sharedBackend(of operands: [Tensor]) -> any Backend {
    let backend = operands[0].backend
    for other in operands.dropFirst() where other.backend !== backend {
      preconditionFailure("tensors on different backends meeting in one operation: \(backend.name) and \(other.backend.name) (create every tensor of a computation on one backend)")
    }
    return backend
  }

  // MARK: Gradient bookkeeping

  /// The same values as a leaf of the graph: gradients can be taken with respect to it.
  public func requiringGradient() -> Tensor {
    Tensor(shape: shape, storage: storage, backend: backend, node: GradientNode(leafShape: shape))
  }

  /// The same values with no graph history: gradients do not flow through the result.
  public func detached() -> Tensor {
    Tensor(shape: shape, storage: storage, backend: backend)
  }

  /// A copy in fresh storage (no graph history).
  public func copied() -> Tensor {
    let out = Tensor.uninitialized(shape, on: backend)
    backend.copy(storage, to: out.storage, count: count)
    return out
  }

  /// Calls `update` with this tensor's storage for an in-place primitive (an optimiser or
  /// running-statistics update), after copying the storage if any other tensor shares it
  /// (copy-on-write). The graph history is dropped (a leaf that required a gradient stays a
  /// fresh leaf).
  mutating func updateInPlace(_ update: (TensorStorage) -> Void) {
    let wasLeaf = node != nil
    node = nil
    if heldStorage == nil {
      heldStorage = storage
      deferredValues = nil
    }
    if !isKnownUniquelyReferenced(&heldStorage!) {
      heldStorage = copied().storage
    }
    update(storage)
    if wasLeaf { node = GradientNode(leafShape: shape) }
  }
}
