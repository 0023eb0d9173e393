import TensorCore

/// A node of a network: owns parameters and child modules, found from its stored properties.
///
/// Every stored property of type `Parameter`, `[Parameter]`, `Module`, `[Module]` or `Module?`
/// is part of the tree, named by its property label (or by `referenceName(forProperty:)` when
/// the PyTorch reference uses another name); array elements are named by index. Dotted paths
/// (`cells.2._ops.0._ops.4.op.1.weight`) therefore match PyTorch `state_dict` keys.
/// Training mode is per module (`train(_:)`), never global.
open class Module {
  /// Training mode: batch statistics in BN, active dropout and drop path.
  public private(set) var isTraining = true

  public init() {}

  /// The reference (PyTorch) name of a stored property; the label itself by default.
  /// Return nil to hide a property from the tree.
  open func referenceName(forProperty label: String) -> String? { label }

  /// The direct children and parameters, in declaration order, with their names.
  open func namedEntries() -> [(String, Entry)] {
    var entries: [(String, Entry)] = []
    var mirror: Mirror? = Mirror(reflecting: self)
    var levels: [Mirror] = []
    while let m = mirror {
      levels.append(m)
      mirror = m.superclassMirror
    }
    for level in levels.reversed() {
      for child in level.children {
        guard let label = child.label, let name = referenceName(forProperty: label) else { continue }
        switch child.value {
        case let p as Parameter: entries.append((name, .parameter(p)))
        case let list as [Parameter]:
          for (i, p) in list.enumerated() { entries.append(("\(name).\(i)", .parameter(p))) }
        case let m as Module: entries.append((name, .module(m)))
        case let list as [Module]:
          for (i, m) in list.enumerated() { entries.append((name.isEmpty ? "\(i)" : "\(name).\(i)", .module(m))) }
        case let optional as Module?:
          if let m = optional { entries.append((name, .module(m))) }
        default: continue
        }
      }
    }
    return entries
  }

  /// A child module or a parameter.
  public enum Entry {
    case module(Module)
    case parameter(Parameter)
  }

  /// Every parameter of the tree with its dotted path, optionally of one kind only.
  public func namedParameters(_ kind: ParameterKind? = nil) -> [(name: String, parameter: Parameter)] {
    guard let kind else { return tree.parameters }
    return tree.parameters.filter { $0.parameter.kind == kind }
  }

  /// The parameters of one kind, in tree order.
  public func parameters(_ kind: ParameterKind) -> [Parameter] { namedParameters(kind).map(\.parameter) }

  /// The number of scalars in the parameters of `kind`.
  public func parameterCount(_ kind: ParameterKind = .weight) -> Int {
    parameters(kind).reduce(0) { $0 + $1.value.count }
  }

  /// Every module of the tree (this one first).
  public func modules() -> [Module] { [self] + tree.descendants }

  /// The tree below this module, walked (by reflection) the first time it is needed and then
  /// kept: children are stored constants, so it cannot change once the module is built, and a
  /// training step that lists parameters or switches modes does not reflect over thousands of
  /// modules again.
  private lazy var tree: Tree = {
    var tree = Tree(parameters: [], descendants: [])
    for (name, entry) in namedEntries() {
      switch entry {
      case .parameter(let p): tree.parameters.append((name, p))
      case .module(let m):
        tree.parameters += m.tree.parameters.map { (name + "." + $0.name, $0.parameter) }
        tree.descendants += [m] + m.tree.descendants
      }
    }
    return tree
  }()

  private struct Tree {
    var parameters: [(name: String, parameter: Parameter)]
    /// Every module below this one (not itself, which would be a reference cycle), in tree order.
    var descendants: [Module]
  }

  /// Switches training mode for this module and every descendant.
  public func train(_ on: Bool = true) {
    for m in modules() { m.isTraining = on }
  }

  /// Evaluation mode (running BN statistics, no dropout or drop path).
  public func eval() { train(false) }

  /// The values of every parameter and buffer by dotted path (a PyTorch-style state dict).
  public func stateDict() -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: namedParameters().map { ($0.name, $0.parameter.value) })
  }

  /// The one door through which parameter values change from outside: assigns each given
  /// value to the parameter of that path. Unknown names and shape mismatches are errors.
  public func update(parameters values: [String: Tensor]) throws {
    let byName = Dictionary(uniqueKeysWithValues: namedParameters().map { ($0.name, $0.parameter) })
    for (name, value) in values {
      guard let p = byName[name] else { throw ModuleError.unknownParameter(name) }
      guard p.value.shape == value.shape else {
        throw ModuleError.shapeMismatch(name, expected: p.value.shape, got: value.shape)
      }
      p.assign(value)
    }
  }
}

/// Errors of `Module.update(parameters:)`.
public enum ModuleError: Error, CustomStringConvertible, Equatable {
  case unknownParameter(String)
  case shapeMismatch(String, expected: [Int], got: [Int])

  public var description: String {
    switch self {
    case .unknownParameter(let n): return "no parameter named \(n)"
    case .shapeMismatch(let n, let e, let g): return "parameter \(n) has shape \(e), got \(g)"
    }
  }
}

/// A module with one input and one output.
public protocol Layer: Module {
  func callAsFunction(_ input: Tensor) -> Tensor
}
