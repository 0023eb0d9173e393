/// The TFRecord framing that TensorBoard event files are made of.
///
/// A record is its length as a little-endian `UInt64`, the masked CRC-32C of those 8 bytes,
/// the data, and the masked CRC-32C of the data (both checksums little-endian `UInt32`).
/// Readers (TensorFlow's and TensorBoard's own) check both checksums. Reference:
/// `tensorflow/core/lib/io/record_writer.cc`.
public enum TFRecord {
  /// `data` framed as one record.
  public static func framed(_ data: [UInt8]) -> [UInt8] {
    let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
    var record = length
    record.reserveCapacity(data.count + 16)
    record += withUnsafeBytes(of: maskedChecksum(length).littleEndian, Array.init)
    record += data
    record += withUnsafeBytes(of: maskedChecksum(data).littleEndian, Array.init)
    return record
  }

  /// The CRC-32C of `bytes`, masked as TFRecord stores it: rotated right by 15 bits plus
  /// 0xA282EAD8 (modulo 2³²), LevelDB's rule for checksums stored in data that may itself be
  /// checksummed.
  public static func maskedChecksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
    let crc = CRC32C.checksum(bytes)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
  }
}
