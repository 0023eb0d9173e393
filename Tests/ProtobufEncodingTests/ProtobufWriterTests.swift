import ProtobufEncoding
import XCTest

/// Byte-exact encodings: the examples of the protobuf encoding guide and values checked with
/// Python's `google.protobuf` (TensorBoard's `Event(wall_time=1.5, step=-1)`, ONNX's
/// `AttributeProto(name='x', type=INTS, ints=[1])`).
final class ProtobufWriterTests: XCTestCase {
  func testVarintsOfTheEncodingGuide() {
    var w = ProtobufWriter()
    w.unsigned(1, 150)
    XCTAssertEqual(w.bytes, [0x08, 0x96, 0x01])
    XCTAssertEqual(ProtobufWriter.varint(300), [0xAC, 0x02])
    XCTAssertEqual(ProtobufWriter.varint(0), [0x00])
    XCTAssertEqual(ProtobufWriter.varint(UInt64.max), [UInt8](repeating: 0xFF, count: 9) + [0x01])
  }

  func testNegativeIntegersTakeTenBytes() {
    var w = ProtobufWriter()
    w.signed(2, -1)
    XCTAssertEqual(w.bytes, [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
  }

  func testStringsBytesAndNestedMessages() {
    var w = ProtobufWriter()
    w.string(2, "testing")
    XCTAssertEqual(w.bytes, [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67])
    var outer = ProtobufWriter()
    outer.message(3) { $0.unsigned(1, 150) }
    XCTAssertEqual(outer.bytes, [0x1A, 0x03, 0x08, 0x96, 0x01])
    var empty = ProtobufWriter()
    empty.bytes(4, [])
    XCTAssertEqual(empty.bytes, [0x22, 0x00])
  }

  func testFixedWidthFloatsAreLittleEndian() {
    var w = ProtobufWriter()
    w.float(2, 1)
    XCTAssertEqual(w.bytes, [0x15, 0x00, 0x00, 0x80, 0x3F])
    var d = ProtobufWriter()
    d.double(1, 1.5)  // Event.wall_time = 1.5
    d.signed(2, -1)  // Event.step = -1
    XCTAssertEqual(d.bytes, [0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    XCTAssertEqual(ProtobufWriter.littleEndianBytes([1, -2]), [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
  }

  func testPackedRepeatedFields() {
    var w = ProtobufWriter()
    w.packedSigned(4, [3, 270, 86942])
    XCTAssertEqual(w.bytes, [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])
    var floats = ProtobufWriter()
    floats.packedFloats(4, [1, -2])
    XCTAssertEqual(floats.bytes, [0x22, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
  }

  func testTwoByteKeys() {
    var w = ProtobufWriter()
    w.string(1, "x")
    w.signed(8, 1)
    w.unsigned(20, 7)  // key 20 << 3 = 160 is a two-byte varint
    XCTAssertEqual(w.bytes, [0x0A, 0x01, 0x78, 0x40, 0x01, 0xA0, 0x01, 0x07])
  }
}
