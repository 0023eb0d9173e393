/// One incoming edge of a cell's node in a genotype: the operation and the node it reads; JSON
/// `[name, input]` (the reference's Python tuples). Shared by the convolutional genotype
/// (`Genotype`, over `Primitive`) and the recurrent one (`RecurrentGenotype`, over
/// `RecurrentPrimitive`).
public struct OperationEdge<Operation: RawRepresentable & Sendable & Equatable>: Codable, Sendable, Equatable
where Operation.RawValue == String {
  public var operation: Operation
  public var input: Int

  public init(_ operation: Operation, _ input: Int) {
    self.operation = operation
    self.input = input
  }

  public init(from decoder: any Decoder) throws {
    var container = try decoder.unkeyedContainer()
    let name = try container.decode(String.self)
    guard let operation = Operation(rawValue: name) else {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown operation '\(name)'")
    }
    self.operation = operation
    self.input = try container.decode(Int.self)
    guard container.isAtEnd else {
      throw DecodingError.dataCorrupted(DecodingError.Context(
        codingPath: decoder.codingPath, debugDescription: "an edge is [operation, input], found \(container.count.map(String.init) ?? "more") elements"))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.unkeyedContainer()
    try container.encode(operation.rawValue)
    try container.encode(input)
  }
}
