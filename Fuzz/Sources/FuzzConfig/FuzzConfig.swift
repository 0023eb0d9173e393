import Foundation
import FuzzSupport
import Runs
import Search
import Evaluation
import TensorCore

/// The input is a run's `config.json`, read as search and as training settings through
/// ``RunDirectory/read(_:from:)``, then the same JSON as the state of a checkpoint (in the
/// safetensors metadata, as ``Checkpoint`` stores it) read through ``Checkpoint/load(from:on:)``.
/// Settings that decode are validated as a run would before starting.
@main enum FuzzConfig {
  static func main() { runLibFuzzer(fuzz) }
}

/// The target's `LLVMFuzzerTestOneInput`.
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = UnsafeBufferPointer(start: data, count: size)
  let run = runDirectory
  scratch.write(bytes, to: "run/" + RunDirectory.JSONFile.config.rawValue)
  _ = (try? run.read(SearchSettings.self, from: .config))?.validationProblem()
  _ = (try? run.read(TrainSettings.self, from: .config))?.validationProblem()

  let state = String(decoding: bytes, as: UTF8.self)
  let metadata = [Checkpoint<SearchSettings>.stateKey: state, Checkpoint<SearchSettings>.formatKey: Checkpoint<SearchSettings>.formatVersion]
  scratch.write(Safetensors.encode([:], metadata: metadata), to: "run/" + run.checkpointURL.lastPathComponent)
  _ = (try? Checkpoint<SearchSettings>.load(from: run.checkpointURL, on: backend))?.state.validationProblem()
  _ = (try? Checkpoint<TrainSettings>.load(from: run.checkpointURL, on: backend))?.state.validationProblem()
  return 0
}

private let scratch = ScratchDirectory(target: "FuzzConfig")
private let runDirectory: RunDirectory = {
  do { return try RunDirectory.create(at: scratch.url.appendingPathComponent("run")) } catch { fatalError("\(error)") }
}()
private let backend = CPUBackend()
