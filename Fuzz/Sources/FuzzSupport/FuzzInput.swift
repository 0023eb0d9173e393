/// One libFuzzer input split into a leading control byte, which the targets use to choose a
/// variant (a file name, a record count), and the rest, which is the file's contents.
public struct FuzzInput {
  /// The first byte (0 for an empty input).
  public let control: UInt8
  /// The bytes after the first.
  public let body: UnsafeBufferPointer<UInt8>

  /// Splits the `size` bytes at `data`.
  public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    control = bytes.first ?? 0
    body = UnsafeBufferPointer(rebasing: bytes.dropFirst())
  }

  /// Whether bit `bit` (0 = least significant) of the control byte is set.
  public func flag(_ bit: Int) -> Bool { control & (1 << bit) != 0 }
}
