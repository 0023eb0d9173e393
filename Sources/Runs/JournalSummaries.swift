import TensorBoard

/// How the events of a run's journal read in TensorBoard: the summary values each event of
/// `events.jsonl` becomes, and the step it is shown at.
///
/// Every event becomes one TensorBoard event whose tags start with the event's `type` (the
/// section TensorBoard groups them in):
/// - each number or boolean field (1 or 0) is a scalar `<type>/<field>` (`step/loss`,
///   `step/architecture_loss`, `epoch/valid_accuracy`, `epoch/normal_skip_connects`,
///   `epoch_start/lr`); the fields of a nested object are flattened with `/`. The position
///   fields `event`, `wall_time`, `epoch`, `step`, `global_step` and `stage` are not plotted:
///   they place the values instead. Strings, arrays and nulls are left out, except:
/// - a `genotype` string is a text `<type>/genotype` (`epoch/genotype` every epoch);
/// - the `architecture` object of an epoch event gives, for each architecture parameter in
///   it (an object with `shape` and `softmax`: `alphas_normal`, `alphas_reduce`, PC-DARTS'
///   `betas_normal`, …), its softmaxed value per edge and operation,
///   `alphas_normal/edge_<source>_<node>/<operation>` (nodes numbered as in a genotype: 0 and
///   1 are the cell's inputs, 2… its intermediate nodes; operation names from the sibling
///   `normal_operations`), or per edge, `betas_normal/edge_<source>_<node>`, for a rank-1
///   parameter. Its other fields are not plotted.
///
/// The step of an event is its `global_step` (the optimisation steps since the start of the
/// run) or, for events without one (`epoch_start`, `stage_start`, decisions), that of the
/// latest event that had one (0 before the first), so every tag runs on one axis and an epoch's
/// values sit at the step that ended it. Its wall time is the event's `wall_time` (runs before
/// that field existed: a fixed fallback).
public struct JournalSummaries: Sendable {
  /// The step of the latest event.
  public private(set) var step = 0

  /// The reading of a journal from its first event.
  public init() {}

  /// Fields that say where an event belongs rather than what it measured.
  static let positionFields: Set<String> = ["event", "wall_time", "epoch", "step", "global_step", "stage"]

  /// The TensorBoard event of the next journal event, `fields`; nil when it has no value to
  /// show. Advances ``step`` to the event's `global_step`.
  /// - Parameter fallbackWallTime: the wall time of an event without a `wall_time` field.
  public mutating func event(for fields: [String: JSONValue], fallbackWallTime: Double) -> TensorBoardEvent? {
    if case .int(let globalStep) = fields["global_step"] { step = globalStep }
    let values = Self.values(of: fields)
    guard !values.isEmpty else { return nil }
    return TensorBoardEvent(wallTime: fields["wall_time"]?.number ?? fallbackWallTime, step: Int64(step), content: .summary(values))
  }

  /// The summary values of one journal event, sorted by tag.
  public static func values(of fields: [String: JSONValue]) -> [SummaryValue] {
    let section: String
    if case .string(let type) = fields["type"] { section = type } else { section = "event" }
    var values: [SummaryValue] = []
    for (key, value) in fields where !positionFields.contains(key) {
      switch (key, value) {
      case ("architecture", .object(let parameters)): values += architectureValues(parameters)
      case ("genotype", .string(let genotype)): values.append(.text("\(section)/genotype", genotype))
      default: values += scalars(value, tag: "\(section)/\(key)")
      }
    }
    return values.sorted { $0.tag < $1.tag }
  }

  /// The scalars of a number, a boolean or an object of them under `tag`.
  private static func scalars(_ value: JSONValue, tag: String) -> [SummaryValue] {
    switch value {
    case .int(let number): return [.scalar(tag, Float(number))]
    case .double(let number): return [.scalar(tag, Float(number))]
    case .bool(let flag): return [.scalar(tag, flag ? 1 : 0)]
    case .object(let fields): return fields.flatMap { scalars($0.value, tag: "\(tag)/\($0.key)") }
    case .string, .array, .null: return []
    }
  }

  /// The softmaxed architecture parameters of an `architecture` object, per edge (and
  /// operation).
  private static func architectureValues(_ architecture: [String: JSONValue]) -> [SummaryValue] {
    var values: [SummaryValue] = []
    for (name, parameter) in architecture {
      guard case .object(let object) = parameter, case .array(let shape)? = object["shape"],
        case .array(let softmax)? = object["softmax"]
      else { continue }
      let dimensions = shape.compactMap { dimension -> Int? in
        if case .int(let size) = dimension, size > 0 { return size }
        return nil
      }
      let numbers = softmax.compactMap { $0.number.map(Float.init) }
      guard dimensions.count == shape.count, (1...2).contains(dimensions.count), numbers.count == softmax.count else { continue }
      let (edges, columns) = (dimensions[0], dimensions.count == 2 ? dimensions[1] : 1)
      let size = edges.multipliedReportingOverflow(by: columns)
      guard !size.overflow, size.partialValue == numbers.count else { continue }
      let edgeNames = edgeNames(count: edges)
      if dimensions.count == 1 {
        for (edge, weight) in numbers.enumerated() { values.append(.scalar("\(name)/\(edgeNames[edge])", weight)) }
        continue
      }
      let cell = name.split(separator: "_").last.map(String.init) ?? name
      let operations = operationNames(architecture["\(cell)_operations"], edges: edges, columns: columns)
      for edge in 0..<edges {
        for column in 0..<columns {
          values.append(.scalar("\(name)/\(edgeNames[edge])/\(operations[edge][column])", numbers[edge * columns + column]))
        }
      }
    }
    return values
  }

  /// `edge_<source>_<node>` for the edges of a cell whose intermediate node `j` has one edge
  /// from every earlier node (14 edges for 4 nodes), else `edge_<index>`.
  static func edgeNames(count: Int) -> [String] {
    var names: [String] = []
    var node = 2
    while names.count < count {
      names += (0..<node).map { "edge_\($0)_\(node)" }
      node += 1
    }
    return names.count == count ? names : (0..<count).map { "edge_\($0)" }
  }

  /// The operation names of each edge (`<cell>_operations`), or `op_<column>` where they are
  /// missing or do not fit the parameter.
  private static func operationNames(_ names: JSONValue?, edges: Int, columns: Int) -> [[String]] {
    let fallback = (0..<columns).map { "op_\($0)" }
    guard case .array(let rows)? = names, rows.count == edges else { return Array(repeating: fallback, count: edges) }
    return rows.map { row in
      guard case .array(let entries) = row else { return fallback }
      let strings = entries.compactMap { entry -> String? in
        if case .string(let name) = entry { return name }
        return nil
      }
      return strings.count == columns ? strings : fallback
    }
  }
}
