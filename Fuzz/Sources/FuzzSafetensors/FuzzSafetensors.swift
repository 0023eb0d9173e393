import Foundation
import FuzzSupport
import Runs
import TensorCore

/// The input is a safetensors file. Whatever decodes must become tensors, encode again and decode
/// to the same values (bit for bit; the `num_batches_tracked` counters equal to their rounded
/// values, as the writer stores them).
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
    let found = again.entries[name]!
    precondition(found.shape == entry.shape, "\(name): shape changed in the round trip")
    if name.hasSuffix(Safetensors.integerSuffix) {
      // Integers have no negative zero: a counter of -0.3 comes back as +0.
      precondition(found.scalars == entry.scalars.map { $0.rounded() }, "\(name): counter changed in the round trip")
    } else {
      precondition(found.scalars.map(\.bitPattern) == entry.scalars.map(\.bitPattern), "\(name): values changed in the round trip")
    }
  }
  return 0
}

private let backend = CPUBackend()
