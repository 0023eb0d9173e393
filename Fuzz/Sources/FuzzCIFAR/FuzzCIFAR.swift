import Foundation
import FuzzSupport
import Datasets

/// The input is a CIFAR binary test file read through ``DatasetReader/cifar10(_:directory:recordsPerFile:)``
/// or ``DatasetReader/cifar100(_:directory:records:)``.
///
/// Layout: a control byte (bit 0: CIFAR-100 `test.bin` rather than CIFAR-10 `test_batch.bin`;
/// bits 1–2: the number of records the reader is told to expect, 0–3), then the file.
@main enum FuzzCIFAR {
  static func main() { runLibFuzzer(fuzz) }
}

/// The target's `LLVMFuzzerTestOneInput`.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let input = FuzzInput(data, size)
  let records = Int(input.control >> 1) & 3
  if input.flag(0) {
    scratch.remove("test_batch.bin")
    scratch.write(input.body, to: "test.bin")
    _ = try? DatasetReader.cifar100(.test, directory: scratch.url, records: records)
  } else {
    scratch.remove("test.bin")
    scratch.write(input.body, to: "test_batch.bin")
    _ = try? DatasetReader.cifar10(.test, directory: scratch.url, recordsPerFile: records)
  }
  return 0
}

private let scratch = ScratchDirectory(target: "FuzzCIFAR")
