/// The TFRecord framing that TensorBoard event files are made of.
///
/// A record is its length as a little-endian `UInt64`, the masked CRC-32C of those 8 bytes,
/// the data, and the masked CRC-32C of the data (both checksums little-endian `UInt32`).
/// Readers (TensorFlow's and TensorBoard's own) check both checksums. Reference:
/// `tensorflow/core/lib/io/record_writer.cc`.
public enum TFRecord {
  /// `data` framed as one record.
  public static func framed(_ data: [UInt8]) -> [UInt8] {
    var record: [UInt8] = []
    record.reserveCapacity(data.count + 16)
    appendLittleEndian(UInt64(data.count), byteCount: 8, to: &record)
    appendLittleEndian(UInt64(maskedChecksum(record)), byteCount: 4, to: &record)
    record += data
    appendLittleEndian(UInt64(maskedChecksum(data)), byteCount: 4, to: &record)
    return record
  }

  /// The CRC-32C of `bytes`, masked as TFRecord stores it: rotated right by 15 bits plus
  /// 0xA282EAD8 (modulo 2³²), so that a record holding checksums of its own does not
  /// checksum to a fixed value.
  public static func maskedChecksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
    let crc = CRC32C.checksum(bytes)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
  }

  private static func appendLittleEndian(_ value: UInt64, byteCount: Int, to bytes: inout [UInt8]) {
    for i in 0..<byteCount { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
  }
}
