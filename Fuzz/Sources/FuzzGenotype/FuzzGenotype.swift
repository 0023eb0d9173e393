import Foundation
import FuzzSupport
import SearchSpace

/// The input is a genotype JSON file, read through ``Genotype/load(from:)``. A genotype that loads
/// must describe itself and write JSON that loads back to the same genotype.
@main enum FuzzGenotype {
  static func main() { runLibFuzzer(fuzz) }
}

/// The target's `LLVMFuzzerTestOneInput`.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let file = scratch.write(UnsafeBufferPointer(start: data, count: size), to: "genotype.json")
  guard let genotype = try? Genotype.load(from: file) else { return 0 }
  _ = genotype.description
  do {
    let reloaded = try Genotype.load(from: scratch.write(try genotype.jsonData(), to: "rewritten.json"))
    precondition(reloaded == genotype, "the genotype changed in a JSON round trip")
  } catch {
    fatalError("a loaded genotype does not round-trip: \(error)")
  }
  return 0
}

private let scratch = ScratchDirectory(target: "FuzzGenotype")
