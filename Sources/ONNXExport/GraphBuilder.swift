import NN
import TensorCore

/// Builds an ``ONNXModel``'s nodes and initializers from a module tree.
///
/// Every module is known by its dotted path in the tree (`cells.3._ops.1.op.2`, the PyTorch
/// reference's module names), so nodes are named after the module they come from and
/// initializers after the parameter they hold (`cells.3._ops.1.op.2.weight`): a viewer shows
/// the network as the reference's `state_dict` names it. Value names are unique (a repeated
/// name gets a `:1`, `:2`, … suffix).
struct GraphBuilder {
  private(set) var model: ONNXModel
  private let paths: [ObjectIdentifier: String]
  private var usedValueNames: Set<String> = []

  /// A builder for the tree below `root`, whose paths name the nodes.
  init(root: Module, model: ONNXModel) {
    self.model = model
    var paths: [ObjectIdentifier: String] = [ObjectIdentifier(root): ""]
    func walk(_ module: Module, path: String) {
      for (name, entry) in module.namedEntries() {
        guard case .module(let child) = entry else { continue }
        let childPath = path.isEmpty ? name : path + "." + name
        paths[ObjectIdentifier(child)] = childPath
        walk(child, path: childPath)
      }
    }
    walk(root, path: "")
    self.paths = paths
  }

  /// The dotted path of `module` in the tree.
  func path(of module: Module) -> String {
    guard let path = paths[ObjectIdentifier(module)] else {
      preconditionFailure("\(type(of: module)) is not part of the exported tree")
    }
    return path
  }

  /// `path.suffix`, or `suffix` for the root.
  func path(of module: Module, _ suffix: String) -> String {
    let base = path(of: module)
    return base.isEmpty ? suffix : base + "." + suffix
  }

  /// Declares a graph input.
  mutating func input(_ name: String, dimensions: [ONNXModel.ValueInfo.Dimension]) -> String {
    usedValueNames.insert(name)
    model.inputs.append(ONNXModel.ValueInfo(name: name, dimensions: dimensions))
    return name
  }

  /// Declares `value` a graph output named `name` (through an `Identity` node if the value
  /// has another name).
  mutating func output(_ value: String, as name: String, dimensions: [ONNXModel.ValueInfo.Dimension]) {
    if value != name {
      precondition(!usedValueNames.contains(name), "output name \(name) is taken")
      usedValueNames.insert(name)
      model.nodes.append(ONNXModel.Node(name: name, operatorType: "Identity", inputs: [value], outputs: [name], attributes: []))
    }
    model.outputs.append(ONNXModel.ValueInfo(name: name, dimensions: dimensions))
  }

  /// Appends a node named `name` and returns the name of its (single) output value.
  mutating func node(
    _ operatorType: String, name: String, inputs: [String], attributes: [ONNXModel.Attribute] = []
  ) -> String {
    let output = uniqueValueName(name)
    model.nodes.append(ONNXModel.Node(name: output, operatorType: operatorType, inputs: inputs, outputs: [output], attributes: attributes))
    return output
  }

  /// Adds a float initializer holding `tensor`'s values; returns its name.
  mutating func initializer(_ name: String, _ tensor: Tensor) -> String {
    initializer(name, dimensions: tensor.shape, elements: .float(tensor.scalars))
  }

  /// Adds an initializer; returns its name.
  mutating func initializer(_ name: String, dimensions: [Int], elements: ONNXModel.TensorData.Elements) -> String {
    let unique = uniqueValueName(name)
    model.initializers.append(ONNXModel.TensorData(name: unique, dimensions: dimensions, elements: elements))
    return unique
  }

  /// Adds a 1-D int64 initializer (the `starts`, `ends`, `axes`, `steps` inputs of `Slice`).
  mutating func integers(_ name: String, _ values: [Int]) -> String {
    initializer(name, dimensions: [values.count], elements: .int64(values.map(Int64.init)))
  }

  private mutating func uniqueValueName(_ name: String) -> String {
    var candidate = name
    var suffix = 0
    while usedValueNames.contains(candidate) {
      suffix += 1
      candidate = "\(name):\(suffix)"
    }
    usedValueNames.insert(candidate)
    return candidate
  }
}
