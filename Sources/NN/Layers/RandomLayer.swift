import TensorCore

/// A layer that draws random values in its forward pass from a generator of its own
/// (``Dropout``'s masks, the search space S4's `noise`). A run that must resume exactly
/// reseeds every such layer from its position before each step, in module order.
public protocol RandomLayer: Layer {
  /// The generator the next forward pass draws from.
  var generator: SeededGenerator { get set }
}

extension Dropout: RandomLayer {}

extension Module {
  /// The random layers of this module and its descendants, in module order.
  public var randomLayers: [any RandomLayer] { modules().compactMap { $0 as? any RandomLayer } }
}

/// Gives each of `layers`, in order, a generator split off `generator` (one derived from a
/// seed and a position, so that a resumed run draws what the uninterrupted one drew).
public func reseed(_ layers: [any RandomLayer], from generator: SeededGenerator) {
  var generator = generator
  for layer in layers { layer.generator = generator.split() }
}
