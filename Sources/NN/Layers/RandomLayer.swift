import TensorCore

/// A layer that draws random values in its forward pass from a generator of its own
/// (``Dropout``'s masks, the search space S4's `noise`). A run that must resume exactly
/// reseeds every such layer from its position before each step, in module order.
public protocol RandomLayer: Layer {
  /// The generator the next forward pass draws from.
  var generator: SeededGenerator { get set }
}

extension Dropout: RandomLayer {}
