import Diagnostics
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
  public typealias Edge = OperationEdge<Primitive>

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

  /// The most intermediate nodes a cell may have (DARTS has 4, NASNet and AmoebaNet 5): bounds
  /// the work a genotype file can ask for.
  public static let maximumNodes = 32

  /// Checks the structure: an even number of pairs, at most ``maximumNodes`` nodes, inputs that
  /// exist before each node, concat nodes that exist. Returns a description of the first
  /// problem, or nil.
  public func validationProblem() -> String? {
    for (cellName, edges, concat) in [("normal", normal, normalConcat), ("reduce", reduce, reduceConcat)] {
      if edges.isEmpty || edges.count % 2 != 0 { return "\(cellName) needs two edges per node, got \(edges.count)" }
      if edges.count > 2 * Self.maximumNodes {
        return "\(cellName) has \(edges.count / 2) nodes, more than the \(Self.maximumNodes) a cell may have"
      }
      if concat.count > edges.count / 2 + 2 { return "\(cellName)_concat lists \(concat.count) nodes, more than the cell has" }
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

  /// The largest genotype file read (a cell of ``maximumNodes`` nodes takes a few kilobytes).
  public static let maximumFileBytes = 1 << 20

  /// Reads and validates a genotype JSON file; errors name the file and the problem.
  public static func load(from url: URL) throws -> Genotype {
    try decodeGenotypeFile(url, kind: "genotype") { $0.validationProblem() }
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

/// The genotype of type `T` in the JSON file `url`, checked by `problem`: a file far larger
/// than any cell's JSON is refused before it is parsed.
/// - Throws: ``GenotypeError`` naming the file (`kind` names what it should hold).
func decodeGenotypeFile<T: Decodable>(_ url: URL, kind: String, problem: (T) -> String?) throws(GenotypeError) -> T {
  let data: Data
  do { data = try readFile(url) } catch { throw GenotypeError(path: url.path, problem: error.problem) }
  guard data.count <= Genotype.maximumFileBytes else {
    throw GenotypeError(path: url.path, problem: "is \(data.count) bytes, too large for a genotype (at most \(Genotype.maximumFileBytes))")
  }
  let genotype: T
  do { genotype = try JSONDiagnostics.decode(T.self, from: data) } catch {
    throw GenotypeError(path: url.path, problem: "is not a valid \(kind) (\(error.description))")
  }
  if let problem = problem(genotype) { throw GenotypeError(path: url.path, problem: problem) }
  return genotype
}

/// A genotype file that cannot be used, with the file and the problem.
public struct GenotypeError: Error, CustomStringConvertible, Equatable {
  public let path: String
  public let problem: String
  public var description: String { "\(path): \(problem)" }
}

