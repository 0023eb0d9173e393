/// CRC-32C (Castagnoli): the checksum of the TFRecord framing of TensorBoard event files.
///
/// The reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF
/// (RFC 3720 §B.4); the check value of the ASCII bytes `123456789` is 0xE3069283.
/// Computed a byte at a time from a 256-entry table, which is enough for records of a few
/// kilobytes.
public enum CRC32C {
  /// The CRC-32C of `bytes`.
  public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
  }

  /// `table[i]`: the remainder of byte `i` shifted through eight steps of the polynomial.
  private static let table: [UInt32] = (0..<256).map { index in
    var remainder = UInt32(index)
    for _ in 0..<8 { remainder = remainder & 1 == 1 ? (remainder >> 1) ^ 0x82F6_3B78 : remainder >> 1 }
    return remainder
  }
}
