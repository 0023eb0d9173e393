/// A writer of the Protocol Buffers wire format (the binary encoding shared by proto2 and
/// proto3), enough to serialise ONNX models and TensorBoard events without generated code.
///
/// Each call appends one field: its key (`field << 3 | wire type`) and its value. Integers are
/// varints (wire type 0; negative `int32`/`int64` take ten bytes, as protobuf's two's-complement
/// rule says), `float` and `double` little-endian fixed32/fixed64 (types 5 and 1), and strings,
/// bytes, nested messages and packed repeated scalars length-delimited (type 2). Fields are
/// written in call order; readers accept any order, and callers use field-number order so the
/// same message gives the same bytes. Reference: https://protobuf.dev/programming-guides/encoding/
public struct ProtobufWriter: Sendable {
  /// The encoded message so far.
  public private(set) var bytes: [UInt8] = []

  public init() {}

  /// A varint field (`uint64`, `uint32`, `bool`, enum).
  public mutating func unsigned(_ field: Int, _ value: UInt64) {
    key(field, wireType: 0)
    appendVarint(value)
  }

  /// An `int64` or `int32` field (a negative value is its 64-bit two's complement).
  public mutating func signed(_ field: Int, _ value: Int64) {
    unsigned(field, UInt64(bitPattern: value))
  }

  /// A `float` field (fixed32).
  public mutating func float(_ field: Int, _ value: Float) {
    key(field, wireType: 5)
    appendLittleEndian(UInt64(value.bitPattern), byteCount: 4)
  }

  /// A `double` field (fixed64).
  public mutating func double(_ field: Int, _ value: Double) {
    key(field, wireType: 1)
    appendLittleEndian(value.bitPattern, byteCount: 8)
  }

  /// A `bytes` field.
  public mutating func bytes(_ field: Int, _ value: [UInt8]) {
    key(field, wireType: 2)
    appendVarint(UInt64(value.count))
    bytes += value
  }

  /// A `string` field (UTF-8).
  public mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

  /// A nested message field, built by `body` into its own writer.
  public mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
    var nested = ProtobufWriter()
    body(&nested)
    bytes(field, nested.bytes)
  }

  /// A packed repeated `int64` field (one length-delimited run of varints).
  public mutating func packedSigned(_ field: Int, _ values: [Int64]) {
    var run = ProtobufWriter()
    for value in values { run.appendVarint(UInt64(bitPattern: value)) }
    bytes(field, run.bytes)
  }

  /// A packed repeated `float` field (one length-delimited run of fixed32 values).
  public mutating func packedFloats(_ field: Int, _ values: [Float]) {
    key(field, wireType: 2)
    appendVarint(UInt64(values.count * 4))
    bytes.reserveCapacity(bytes.count + values.count * 4)
    for value in values { appendLittleEndian(UInt64(value.bitPattern), byteCount: 4) }
  }

  /// The bytes of `values` as little-endian IEEE floats (ONNX `raw_data`, TensorFlow
  /// `tensor_content`).
  public static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    var writer = ProtobufWriter()
    writer.bytes.reserveCapacity(values.count * 4)
    for value in values { writer.appendLittleEndian(UInt64(value.bitPattern), byteCount: 4) }
    return writer.bytes
  }

  /// The varint encoding of `value` alone (length prefixes of framings built on protobuf).
  public static func varint(_ value: UInt64) -> [UInt8] {
    var writer = ProtobufWriter()
    writer.appendVarint(value)
    return writer.bytes
  }

  private mutating func key(_ field: Int, wireType: UInt64) {
    precondition(field >= 1 && field < 1 << 29, "protobuf field numbers are 1 ..< 2^29, got \(field)")
    appendVarint(UInt64(field) << 3 | wireType)
  }

  private mutating func appendVarint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  private mutating func appendLittleEndian(_ value: UInt64, byteCount: Int) {
    for i in 0..<byteCount { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
  }
}
