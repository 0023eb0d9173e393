import Foundation
import FuzzSupport
import Runs
import TensorCore

/// The input is a safetensors file. Whatever decodes must become tensors, encode again and decode
/// to the same values (bit for bit; the `num_batches_tracked` counters as the writer rounds them).
@main enum FuzzSafetensors {
  static func main() { runLibFuzzer(fuzz) }
}

/// The target's `LLVMFuzzerTestOneInput`.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard let contents = try? Safetensors.decode(Data(UnsafeBufferPointer(start: data, count: size)), source: "fuzz input") else { return 0 }
  let tensors = contents.tensors(on: backend)
  let again: SafetensorsContents
  do {
    again = try Safetensors.decode(Safetensors.encode(tensors, metadata: contents.metadata), source: "re-encoded fuzz input")
  } catch {
    fatalError("decoded tensors do not round-trip: \(error)")
  }
  precondition(again.metadata == contents.metadata, "metadata changed in the round trip")
  precondition(Set(again.entries.keys) == Set(contents.entries.keys), "tensor names changed in the round trip")
  for (name, entry) in contents.entries {
    let expected = name.hasSuffix(Safetensors.integerSuffix) ? entry.scalars.map { $0.rounded() } : entry.scalars
    let found = again.entries[name]!
    precondition(found.shape == entry.shape, "\(name): shape changed in the round trip")
    precondition(found.scalars.map(\.bitPattern) == expected.map(\.bitPattern), "\(name): values changed in the round trip")
  }
  return 0
}

private let backend = CPUBackend()
