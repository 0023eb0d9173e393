import Diagnostics
import Foundation
import TensorCore

/// Everything needed to resume a run, saved as one safetensors file.
///
/// `tensors` holds every tensor of the run under names the caller chooses (model weights and
/// buffers under their PyTorch reference names, architecture parameters, optimizer moments, …).
/// `state` holds the rest as a `Codable` value (epoch, step cursor, generator states, optimizer
/// step counts, the config); it is stored as JSON (non-finite floats as `"NaN"` etc.) in the
/// file's `__metadata__` under
/// ``stateKey``, beside ``formatKey``. Because tensors and state share one file, which is
/// replaced atomically, a checkpoint on disk is always complete and self-consistent, and a
/// failed save leaves the previous checkpoint in place.
public struct Checkpoint<State: Codable> {
  /// Metadata key of the JSON-encoded state.
  public static var stateKey: String { "state" }
  /// Metadata key identifying the file as a checkpoint of this package, with ``formatVersion``.
  public static var formatKey: String { "format" }
  /// The checkpoint format written by this version.
  public static var formatVersion: String { "darts-checkpoint-1" }

  /// Tensors by name.
  public var tensors: [String: Tensor]
  /// Everything else.
  public var state: State

  /// A checkpoint of `tensors` and `state`.
  public init(tensors: [String: Tensor], state: State) {
    self.tensors = tensors
    self.state = state
  }

  /// Writes the checkpoint to `url` atomically (usually ``RunDirectory/checkpointURL``).
  /// - Throws: ``CheckpointError`` without writing anything if a tensor holds a NaN or an
  ///   infinity (so the previous, good checkpoint stays in place); the encoder's error if
  ///   `state` does not encode, ``AtomicFileError`` on I/O failure.
  public func save(to url: URL) throws {
    try Safetensors.write(tensors, metadata: try fileMetadata(naming: url.path), to: url)
  }

  /// The bytes of the checkpoint file (what ``save(to:)`` writes; a data-parallel run also
  /// sends them from its leader to the other processes). `path` names the file in errors.
  /// - Throws: ``CheckpointError`` if a tensor holds a NaN or an infinity; the encoder's error
  ///   if `state` does not encode.
  public func encoded(naming path: String) throws -> Data {
    Safetensors.encode(tensors, metadata: try fileMetadata(naming: path))
  }

  /// The file's metadata (state and format), once every tensor is known to be finite.
  private func fileMetadata(naming path: String) throws -> [String: String] {
    if let name = tensors.firstNonFiniteName {
      throw CheckpointError(path: path, problem: .nonFiniteTensorNotSaved(name))
    }
    let json = String(decoding: try JSONCoding.encoder().encode(state), as: UTF8.self)
    return [Self.stateKey: json, Self.formatKey: Self.formatVersion]
  }

  /// Reads and validates the checkpoint at `url`, placing its tensors on `backend`.
  /// - Throws: ``SafetensorsError`` if the file is missing, truncated or corrupt;
  ///   ``CheckpointError`` if it is valid safetensors but not a readable checkpoint, or a
  ///   tensor is not finite. Both describe the problem in one line naming the file.
  public static func load(from url: URL, on backend: any Backend) throws -> Checkpoint {
    try decode(Safetensors.read(from: url), path: url.path, on: backend)
  }

  /// The checkpoint in the bytes `data` of a checkpoint file (``encoded(naming:)``), validated
  /// as ``load(from:on:)`` validates a file; `path` names it in errors.
  public static func decode(_ data: Data, naming path: String, on backend: any Backend) throws -> Checkpoint {
    try decode(Safetensors.decode(data, source: path), path: path, on: backend)
  }

  private static func decode(_ contents: SafetensorsContents, path: String, on backend: any Backend) throws -> Checkpoint {
    guard let json = contents.metadata[stateKey] else {
      throw CheckpointError(path: path, problem: .missingState)
    }
    guard contents.metadata[formatKey] == formatVersion else {
      throw CheckpointError(path: path, problem: .unknownFormat(contents.metadata[formatKey] ?? "none"))
    }
    let state: State
    do {
      state = try JSONDiagnostics.decode(State.self, from: Data(json.utf8), using: JSONCoding.decoder())
    } catch {
      throw CheckpointError(path: path, problem: .invalidState(error.description))
    }
    let tensors = contents.tensors(on: backend)
    if let name = tensors.firstNonFiniteName {
      throw CheckpointError(path: path, problem: .nonFiniteTensor(name))
    }
    return Checkpoint(tensors: tensors, state: state)
  }
}

extension Checkpoint: Sendable where State: Sendable {}

/// A safetensors file that is not a usable checkpoint; its description is one line naming it.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What is wrong.
  public enum Problem: Equatable, Sendable {
    /// The metadata has no state (a plain weights file, not a checkpoint).
    case missingState
    /// The metadata's format tag is not one this version reads.
    case unknownFormat(String)
    /// The state JSON does not decode as the expected type.
    case invalidState(String)
    /// The named tensor of the file holds a NaN or an infinity.
    case nonFiniteTensor(String)
    /// The named tensor of a checkpoint being saved holds a NaN or an infinity; nothing was
    /// written.
    case nonFiniteTensorNotSaved(String)
  }

  /// The checkpoint file.
  public let path: String
  /// What is wrong.
  public let problem: Problem

  public var description: String {
    switch problem {
    case .missingState:
      return "\(path): not a checkpoint (no \"state\" in the safetensors metadata)"
    case .unknownFormat(let format):
      return oneLine("\(path): unknown checkpoint format \(format.debugDescription)")
    case .invalidState(let reason):
      return oneLine("\(path): checkpoint state does not decode: \(reason)")
    case .nonFiniteTensor(let name):
      return oneLine("\(path): tensor \(name) holds a NaN or an infinity")
    case .nonFiniteTensorNotSaved(let name):
      return oneLine("\(path): not saved, tensor \(name) holds a NaN or an infinity (the previous checkpoint is kept)")
    }
  }
}

extension Dictionary where Key == String, Value == Tensor {
  /// The tensors whose names start with `prefix`, with the prefix removed (optimiser state
  /// stored beside the model in a checkpoint, e.g. `optimizer.weights.momentum_buffer.`).
  public func withPrefixRemoved(_ prefix: String) -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: compactMap { name, tensor in
      name.hasPrefix(prefix) ? (String(name.dropFirst(prefix.count)), tensor) : nil
    })
  }

  /// The tensors with `prefix` added to every name.
  public func withPrefix(_ prefix: String) -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: map { (prefix + $0.key, $0.value) })
  }
}
