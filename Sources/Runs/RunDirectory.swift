import Diagnostics
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The directory holding everything one search or training run produces.
///
/// Layout (every file but the event logs is replaced atomically, see ``AtomicFile``):
///
/// | file | contents |
/// | --- | --- |
/// | `config.json` | the run's typed configuration (pretty, sorted keys) |
/// | `events.jsonl` | one JSON object per line, see ``EventLog`` |
/// | `events.out.tfevents.<time>.<host>` | the log as TensorBoard reads it, see ``TensorBoardMirror`` |
/// | `checkpoint.safetensors` | the latest ``Checkpoint``: tensors plus the JSON state in `__metadata__["state"]` |
/// | `weights.safetensors` | the trained network alone under the PyTorch reference names (training) |
/// | `genotype.json` | the derived genotype (search) or the genotype being trained |
/// | `architecture.json` | the architecture parameters in readable form (search) |
///
/// A checkpoint is a single file so that tensors and state can never disagree: there is no
/// moment at which new weights sit beside an old epoch counter. Each save replaces it atomically,
/// so the previous checkpoint stays valid until the new one is complete on disk.
public struct RunDirectory: Sendable {
  /// The run's directory.
  public let url: URL

  /// The JSON artifacts of a run.
  public enum JSONFile: String, Sendable, CaseIterable {
    case config = "config.json"
    case genotype = "genotype.json"
    case architecture = "architecture.json"
  }

  /// `events.jsonl`.
  public var eventsURL: URL { url.appendingPathComponent("events.jsonl") }
  /// `checkpoint.safetensors`.
  public var checkpointURL: URL { url.appendingPathComponent("checkpoint.safetensors") }
  /// `weights.safetensors` (training runs: the network's state dict, loadable by PyTorch).
  public var weightsURL: URL { url.appendingPathComponent("weights.safetensors") }
  /// The path of one of the JSON artifacts.
  public func url(of file: JSONFile) -> URL { url.appendingPathComponent(file.rawValue) }

  /// Starts a new run in `url`, creating the directory and any missing parents.
  ///
  /// - Throws: ``RunDirectoryError`` if `url` exists and is not an empty directory, or cannot be
  ///   created, or is not writable (checked now, before any work is done, by creating and
  ///   deleting a probe file).
  public static func create(at url: URL) throws(RunDirectoryError) -> RunDirectory {
    let path = url.standardizedFileURL.path
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else { throw RunDirectoryError(path: path, problem: .notADirectory) }
      let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
      guard contents.isEmpty else { throw RunDirectoryError(path: path, problem: .notEmpty) }
    } else if let reason = makeDirectories(path) {
      throw RunDirectoryError(path: path, problem: .cannotCreate(reason))
    }
    let run = RunDirectory(url: URL(fileURLWithPath: path, isDirectory: true))
    try run.checkWritable()
    return run
  }

  /// Opens an interrupted run in `url` to resume it: from its checkpoint, or, when the run died
  /// before its first checkpoint (``hasCheckpoint`` is false), from the start with its
  /// `config.json`.
  ///
  /// Removes temporary files that a killed writer left behind.
  /// - Throws: ``RunDirectoryError`` if `url` is not a directory, holds neither a checkpoint nor
  ///   a `config.json`, or is not writable.
  public static func resume(at url: URL) throws(RunDirectoryError) -> RunDirectory {
    let path = url.standardizedFileURL.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw RunDirectoryError(path: path, problem: .missing)
    }
    guard isDirectory.boolValue else { throw RunDirectoryError(path: path, problem: .notADirectory) }
    let run = RunDirectory(url: URL(fileURLWithPath: path, isDirectory: true))
    guard run.hasCheckpoint || FileManager.default.fileExists(atPath: run.url(of: .config).path) else {
      throw RunDirectoryError(path: path, problem: .noCheckpoint)
    }
    try run.checkWritable()
    AtomicFile.removeStaleTemporaries(in: run.url)
    return run
  }

  /// The run directory at `url` as the processes of a data-parallel job other than its leader
  /// know it: they name its files in messages but never create, read or write them.
  public static func unopened(at url: URL) -> RunDirectory {
    RunDirectory(url: URL(fileURLWithPath: url.standardizedFileURL.path, isDirectory: true))
  }

  /// Whether the run has written a checkpoint.
  public var hasCheckpoint: Bool { FileManager.default.fileExists(atPath: checkpointURL.path) }

  /// The top-level keys of `config.json` (empty if it is missing or not a JSON object): tells a
  /// search run's config from a training run's.
  public var configKeys: Set<String> {
    guard let data = try? readFile(url(of: .config)),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return [] }
    return Set(object.keys)
  }

  /// Writes `value` as pretty-printed JSON with sorted keys to one of the run's JSON files,
  /// atomically (non-finite floats as `"NaN"`, `"Infinity"`, `"-Infinity"`).
  public func write(_ value: some Encodable, to file: JSONFile) throws {
    var data = try JSONCoding.encoder(pretty: true).encode(value)
    data.append(0x0A)
    try AtomicFile.write(data, to: url(of: file))
  }

  /// Decodes one of the run's JSON files (for example the config of a run being resumed).
  /// - Throws: ``RunDirectoryError`` naming the file if it is missing or does not decode.
  public func read<Value: Decodable>(_ type: Value.Type, from file: JSONFile) throws(RunDirectoryError) -> Value {
    let fileURL = url(of: file)
    do {
      return try JSONDiagnostics.decode(type, from: try readFile(fileURL), using: JSONCoding.decoder())
    } catch let error as FileReadError {
      throw RunDirectoryError(path: fileURL.path, problem: .unreadableFile(error.problem))
    } catch {
      throw RunDirectoryError(path: fileURL.path, problem: .unreadableFile("\(error)"))
    }
  }

  private func checkWritable() throws(RunDirectoryError) {
    let probe = url.appendingPathComponent(".write-test-\(getpid())").path
    let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else {
      throw RunDirectoryError(path: url.path, problem: .notWritable(errnoDescription()))
    }
    close(descriptor)
    unlink(probe)
  }

  /// `mkdir -p`; returns nil on success, else the system's reason.
  private static func makeDirectories(_ path: String) -> String? {
    var prefix = ""  // `path` is absolute
    for component in path.split(separator: "/") {
      prefix += "/" + component
      if mkdir(prefix, 0o777) != 0 && errno != EEXIST { return "\(prefix): \(errnoDescription())" }
    }
    return nil
  }
}

/// A run directory that cannot be used; its description is one line naming the directory.
public struct RunDirectoryError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What is wrong.
  public enum Problem: Equatable, Sendable {
    /// A new run's directory already holds files.
    case notEmpty
    /// The path exists but is a file.
    case notADirectory
    /// The directory (or a parent) could not be created.
    case cannotCreate(String)
    /// Files cannot be created in the directory.
    case notWritable(String)
    /// A run to resume does not exist.
    case missing
    /// A run to resume has neither `checkpoint.safetensors` nor `config.json`.
    case noCheckpoint
    /// A JSON artifact is missing or malformed.
    case unreadableFile(String)
  }

  /// The directory (or, for ``Problem/unreadableFile(_:)``, the file).
  public let path: String
  /// What is wrong.
  public let problem: Problem

  public var description: String {
    switch problem {
    case .notEmpty:
      return "run directory \(path) already exists and is not empty; choose a new directory or resume this run"
    case .notADirectory:
      return "run directory \(path) exists and is not a directory"
    case .cannotCreate(let reason):
      return oneLine("cannot create run directory \(path): \(reason)")
    case .notWritable(let reason):
      return oneLine("run directory \(path) is not writable: \(reason)")
    case .missing:
      return "cannot resume: run directory \(path) does not exist"
    case .noCheckpoint:
      return "cannot resume: run directory \(path) has neither checkpoint.safetensors nor config.json"
    case .unreadableFile(let reason):
      return oneLine("\(path): \(reason)")
    }
  }
}
