import ProtobufEncoding

/// An ONNX model as this package writes it: one graph of float32 nodes, its initializers, one
/// input and one output (the subset of `onnx.proto` an evaluation network needs).
///
/// ``encoded()`` gives the `ModelProto` bytes of a `.onnx` file. Field numbers follow
/// `onnx/onnx.proto` (IR version 8); repeated integers are written unpacked, as ONNX's own
/// serialiser writes them.
public struct ONNXModel: Sendable {
  /// The ONNX IR version written (8: ONNX 1.10–1.12 files, read by every later release).
  public static let irVersion = 8
  /// The default-domain operator set the graph uses (17: `BatchNormalization`-15,
  /// `Slice`-13, `ConstantOfShape`-9, …).
  public static let opsetVersion = 17

  public var graphName: String
  public var producerVersion: String
  public var nodes: [Node] = []
  public var initializers: [TensorData] = []
  public var inputs: [ValueInfo] = []
  public var outputs: [ValueInfo] = []
  /// Free text shown by viewers (the genotype and size of the network).
  public var documentation: String = ""

  public init(graphName: String, producerVersion: String) {
    self.graphName = graphName
    self.producerVersion = producerVersion
  }

  /// A `NodeProto`: one operator applied to named values.
  public struct Node: Sendable {
    public var name: String
    public var operatorType: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [Attribute]

    public init(name: String, operatorType: String, inputs: [String], outputs: [String], attributes: [Attribute] = []) {
      (self.name, self.operatorType, self.inputs, self.outputs, self.attributes) = (name, operatorType, inputs, outputs, attributes)
    }
  }

  /// A named attribute of a node (`AttributeProto`).
  public struct Attribute: Sendable {
    public var name: String
    public var value: Value

    public enum Value: Sendable {
      case int(Int)
      case ints([Int])
      case float(Float)
      case string(String)
      case tensor(TensorData)
    }

    public init(_ name: String, _ value: Value) {
      self.name = name
      self.value = value
    }
  }

  /// A constant tensor (`TensorProto`): an initializer or a tensor attribute.
  public struct TensorData: Sendable {
    public var name: String
    public var dimensions: [Int]
    public var elements: Elements

    public enum Elements: Sendable {
      case float([Float])
      case int64([Int64])
    }

    public init(name: String, dimensions: [Int], elements: Elements) {
      self.name = name
      self.dimensions = dimensions
      self.elements = elements
    }
  }

  /// A graph input or output: name, float32 element type and a shape whose dimensions are
  /// sizes or symbolic names (`batch`).
  public struct ValueInfo: Sendable {
    public var name: String
    public var dimensions: [Dimension]

    public enum Dimension: Sendable, Equatable {
      case size(Int)
      case symbol(String)
    }

    public init(name: String, dimensions: [Dimension]) {
      self.name = name
      self.dimensions = dimensions
    }
  }

  /// The bytes of the `ModelProto`.
  public func encoded() -> [UInt8] {
    var model = ProtobufWriter()
    model.signed(1, Int64(Self.irVersion))
    model.string(2, "darts")
    model.string(3, producerVersion)
    model.message(7) { graph in
      for node in nodes { graph.message(1) { node.encode(into: &$0) } }
      graph.string(2, graphName)
      for tensor in initializers { graph.message(5) { tensor.encode(into: &$0) } }
      if !documentation.isEmpty { graph.string(10, documentation) }
      for input in inputs { graph.message(11) { input.encode(into: &$0) } }
      for output in outputs { graph.message(12) { output.encode(into: &$0) } }
    }
    model.message(8) { opset in
      opset.string(1, "")
      opset.signed(2, Int64(Self.opsetVersion))
    }
    return model.bytes
  }
}

extension ONNXModel.Node {
  fileprivate func encode(into node: inout ProtobufWriter) {
    for input in inputs { node.string(1, input) }
    for output in outputs { node.string(2, output) }
    node.string(3, name)
    node.string(4, operatorType)
    for attribute in attributes { node.message(5) { attribute.encode(into: &$0) } }
  }
}

extension ONNXModel.Attribute {
  /// `AttributeProto.AttributeType`: FLOAT 1, INT 2, STRING 3, TENSOR 4, INTS 7.
  fileprivate func encode(into attribute: inout ProtobufWriter) {
    attribute.string(1, name)
    switch value {
    case .float(let f):
      attribute.float(2, f)
      attribute.signed(20, 1)
    case .int(let i):
      attribute.signed(3, Int64(i))
      attribute.signed(20, 2)
    case .string(let s):
      attribute.string(4, s)
      attribute.signed(20, 3)
    case .tensor(let t):
      attribute.message(5) { t.encode(into: &$0) }
      attribute.signed(20, 4)
    case .ints(let values):
      for i in values { attribute.signed(8, Int64(i)) }
      attribute.signed(20, 7)
    }
  }
}

extension ONNXModel.TensorData {
  /// `TensorProto.DataType`: FLOAT 1, INT64 7. Floats go to `raw_data` (little-endian), int64
  /// constants to `int64_data`.
  fileprivate func encode(into tensor: inout ProtobufWriter) {
    for d in dimensions { tensor.signed(1, Int64(d)) }
    switch elements {
    case .float(let values):
      tensor.signed(2, 1)
      tensor.string(8, name)
      tensor.bytes(9, ProtobufWriter.littleEndianBytes(values))
    case .int64(let values):
      tensor.signed(2, 7)
      tensor.packedSigned(7, values)
      tensor.string(8, name)
    }
  }
}

extension ONNXModel.ValueInfo {
  /// `ValueInfoProto { name, type: TypeProto { tensor_type { elem_type FLOAT, shape } } }`.
  fileprivate func encode(into value: inout ProtobufWriter) {
    value.string(1, name)
    value.message(2) { type in
      type.message(1) { tensor in
        tensor.signed(1, 1)
        tensor.message(2) { shape in
          for dimension in dimensions {
            shape.message(1) { entry in
              switch dimension {
              case .size(let n): entry.signed(1, Int64(n))
              case .symbol(let s): entry.string(2, s)
              }
            }
          }
        }
      }
    }
  }
}
