import Foundation
import FuzzSupport
import Datasets

/// The input is an image file (JPEG or PNG, told apart by signature), decoded through
/// ``ImageDecoder/decode(_:path:)`` as the image-folder loader does.
@main enum FuzzImage {
  static func main() { runLibFuzzer(fuzz) }
}

/// The target's `LLVMFuzzerTestOneInput`.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  _ = try? ImageDecoder.decode(Data(UnsafeBufferPointer(start: data, count: size)), path: "fuzz input")
  return 0
}
