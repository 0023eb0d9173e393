import TensorBoard
import XCTest

/// Byte-exact checksums, records and events. The expected bytes were printed by the
/// tensorboard 2.21.0 / protobuf 7.36.2 Python of `Scripts/python-tools.sh`:
/// `tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`,
/// `tensorboard.summary.writer.record_writer.RecordWriter(io.BytesIO()).write(b"hello")` and
/// `event_pb2.Event(...).SerializeToString().hex()` for the events named in each test
/// (the text one built by `tensorboard.plugins.text.summary_v2.text_pb`).
final class TensorBoardEncodingTests: XCTestCase {
  func testCRC32CCheckValue() {
    XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    XCTAssertEqual(CRC32C.checksum([]), 0)
    // RFC 3720 §B.4: 32 bytes of zeros.
    XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
  }

  func testMaskedChecksum() {
    XCTAssertEqual(TFRecord.maskedChecksum(Array("123456789".utf8)), 0xC78A_B0E5)
    XCTAssertEqual(TFRecord.maskedChecksum([]), 0xA282_EAD8)
  }

  func testRecordFraming() {
    XCTAssertEqual(hex(TFRecord.framed(Array("hello".utf8))), "0500000000000000" + "eab2043e" + "68656c6c6f" + "bb1f1c19")
  }

  /// `Event(wall_time=1.5, step=3, summary=Summary(value=[Value(tag="step/loss", simple_value=0.25)]))`.
  func testScalarEvent() {
    let event = TensorBoardEvent(wallTime: 1.5, step: 3, content: .summary([.scalar("step/loss", 0.25)]))
    XCTAssertEqual(hex(event.encoded), "09000000000000f83f10032a120a100a09737465702f6c6f7373150000803e")
    XCTAssertEqual(event.record, TFRecord.framed(event.encoded))
  }

  /// `Event(wall_time=1.5, step=3, summary=text_pb("epoch/genotype", "normal"))`.
  func testTextEvent() {
    let event = TensorBoardEvent(wallTime: 1.5, step: 3, content: .summary([.text("epoch/genotype", "normal")]))
    XCTAssertEqual(
      hex(event.encoded),
      "09000000000000f83f10032a2a0a280a0e65706f63682f67656e6f74797065420c0807120042066e6f726d616c4a080a060a0474657874")
  }

  /// `Event(wall_time=1700000000.25, step=0, file_version="brain.Event:2")`: proto3 leaves
  /// the zero step out.
  func testFileVersionEvent() {
    let event = TensorBoardEvent(wallTime: 1_700_000_000.25, step: 0, content: .fileVersion(TensorBoardEvent.fileVersion))
    XCTAssertEqual(hex(event.encoded), "0900001040fc54d9411a0d627261696e2e4576656e743a32")
  }

  func testEventFileNames() {
    XCTAssertEqual(EventFileName.make(wallTime: 1_700_000_000.9, host: "node1"), "events.out.tfevents.1700000000.node1")
    XCTAssertTrue(EventFileName.matches("events.out.tfevents.1700000000.node1"))
    XCTAssertFalse(EventFileName.matches("events.jsonl"))
  }

  private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
