import Foundation

/// A derived cell pair: the hand-off from search to evaluation (SPEC §3.1).
///
/// `normal` and `reduce` list two `(operation, input)` pairs per intermediate node: pairs `2k`
/// and `2k+1` feed node `k + 2`; input 0 is the cell two back (c_{k−2}), 1 the previous cell
/// (c_{k−1}), 2… the intermediate nodes. The concat lists name the nodes whose outputs are
/// concatenated into the cell output.
///
/// JSON form (the reference's Python tuples, as arrays):
/// ```json
/// {"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], …], "normal_concat": [2, 3, 4, 5],
///  "reduce": [["max_pool_3x3", 0], …], "reduce_concat": [2, 3, 4, 5]}
/// ```
public struct Genotype: Codable, Sendable, Equatable, CustomStringConvertible {
  /// One incoming edge of a node: the operation and the node it reads.
  public struct Edge: Codable, Sendable, Equatable {
    public var operation: Primitive
    public var input: Int

    public init(_ operation: Primitive, _ input: Int) {
      self.operation = operation
      self.input = input
    }

    public init(from decoder: any Decoder) throws {
      var container = try decoder.unkeyedContainer()
      let name = try container.decode(String.self)
      guard let operation = Primitive(rawValue: name) else {
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown operation '\(name)'")
      }
      self.operation = operation
      self.input = try container.decode(Int.self)
    }

    public func encode(to encoder: any Encoder) throws {
      var container = encoder.unkeyedContainer()
      try container.encode(operation.rawValue)
      try container.encode(input)
    }
  }

  public var normal: [Edge]
  public var normalConcat: [Int]
  public var reduce: [Edge]
  public var reduceConcat: [Int]

  enum CodingKeys: String, CodingKey {
    case normal, reduce
    case normalConcat = "normal_concat"
    case reduceConcat = "reduce_concat"
  }

  public init(normal: [Edge], normalConcat: [Int] = [2, 3, 4, 5], reduce: [Edge], reduceConcat: [Int] = [2, 3, 4, 5]) {
    self.normal = normal
    self.normalConcat = normalConcat
    self.reduce = reduce
    self.reduceConcat = reduceConcat
  }

  /// Checks the structure: an even number of pairs, inputs that exist before each node,
  /// concat nodes that exist. Returns a description of the first problem, or nil.
  public func validationProblem() -> String? {
    for (cellName, edges, concat) in [("normal", normal, normalConcat), ("reduce", reduce, reduceConcat)] {
      if edges.isEmpty || edges.count % 2 != 0 { return "\(cellName) needs two edges per node, got \(edges.count)" }
      for (i, edge) in edges.enumerated() where edge.input < 0 || edge.input >= 2 + i / 2 {
        return "\(cellName) edge \(i) (\(edge.operation.name)) reads node \(edge.input), which does not exist before node \(2 + i / 2)"
      }
      let nodes = 2 + edges.count / 2
      if concat.isEmpty || concat.contains(where: { $0 < 0 || $0 >= nodes }) {
        return "\(cellName)_concat \(concat) names nodes outside 0..<\(nodes)"
      }
    }
    return nil
  }

  /// Reads and validates a genotype JSON file; errors name the file and the problem.
  public static func load(from url: URL) throws -> Genotype {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw GenotypeError(path: url.path, problem: "cannot be read")
    }
    let genotype: Genotype
    do { genotype = try JSONDecoder().decode(Genotype.self, from: data) } catch let error as DecodingError {
      throw GenotypeError(path: url.path, problem: "is not a valid genotype (\(error.shortDescription))")
    }
    if let problem = genotype.validationProblem() { throw GenotypeError(path: url.path, problem: problem) }
    return genotype
  }

  /// The JSON form, pretty-printed with sorted keys.
  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }

  /// The reference's Python notation, `Genotype(normal=[('sep_conv_3x3', 0), …], …)`.
  public var description: String {
    func list(_ edges: [Edge]) -> String { "[" + edges.map { "('\($0.operation.name)', \($0.input))" }.joined(separator: ", ") + "]" }
    return "Genotype(normal=\(list(normal)), normal_concat=\(normalConcat), reduce=\(list(reduce)), reduce_concat=\(reduceConcat))"
  }
}

/// A genotype file that cannot be used, with the file and the problem.
public struct GenotypeError: Error, CustomStringConvertible, Equatable {
  public let path: String
  public let problem: String
  public var description: String { "\(path): \(problem)" }
}

extension DecodingError {
  /// One line: what was wrong and where.
  var shortDescription: String {
    switch self {
    case .dataCorrupted(let c): return c.debugDescription + Self.path(c.codingPath)
    case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)'" + Self.path(c.codingPath)
    case .typeMismatch(_, let c), .valueNotFound(_, let c): return c.debugDescription + Self.path(c.codingPath)
    @unknown default: return "\(self)"
    }
  }

  private static func path(_ codingPath: [any CodingKey]) -> String {
    codingPath.isEmpty ? "" : " at " + codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
  }
}
