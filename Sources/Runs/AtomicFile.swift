import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Crash-safe replacement of a file's contents.
///
/// The new contents go to a temporary file in the target's directory (same file system, so the
/// rename below cannot copy), which is flushed with `fsync`, renamed over the target and made
/// durable by an `fsync` of the directory. A reader sees either the complete old file or the
/// complete new one, never a mixture; if the process dies mid-write (or `contents` throws), the
/// old file is untouched. On failure the temporary file is removed; a process killed with
/// `kill -9` may leave one behind, named `.<name>.tmp-<pid>-<random>`, which
/// ``removeStaleTemporaries(in:)`` clears.
///
/// Every artifact of a run (config, genotype, checkpoint, …) is written through this type.
public enum AtomicFile {
  /// Receives the new contents of a file being written atomically, in pieces.
  public struct Sink: ~Copyable {
    fileprivate let descriptor: Int32
    fileprivate let path: String

    /// Appends raw bytes.
    /// - Throws: ``AtomicFileError`` if the system write fails.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
      if let reason = writeAll(descriptor, bytes) {
        throw AtomicFileError(path: path, operation: "writing", reason: reason)
      }
    }

    /// Appends the bytes of `data`.
    /// - Throws: ``AtomicFileError`` if the system write fails.
    public func write(_ data: Data) throws {
      try data.withUnsafeBytes { try write($0) }
    }
  }

  /// Replaces the file at `url` with the bytes `contents` writes into the sink.
  ///
  /// - Parameters:
  ///   - url: The file to create or replace. Its directory must exist.
  ///   - contents: Produces the new contents. If it throws, the previous file stays as it was
  ///     and its error is rethrown.
  /// - Throws: ``AtomicFileError`` for an I/O failure, or whatever `contents` throws.
  public static func write(to url: URL, contents: (borrowing Sink) throws -> Void) throws {
    let target = url.standardizedFileURL
    let directory = target.deletingLastPathComponent().path
    let temporary = directory + "/.\(target.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw AtomicFileError(path: target.path, operation: "creating a temporary file", reason: errnoDescription())
    }
    var renamed = false
    defer { if !renamed { unlink(temporary) } }
    do {
      defer { close(descriptor) }
      try contents(Sink(descriptor: descriptor, path: target.path))
      guard fsync(descriptor) == 0 else {
        throw AtomicFileError(path: target.path, operation: "flushing", reason: errnoDescription())
      }
    }
    guard rename(temporary, target.path) == 0 else {
      throw AtomicFileError(path: target.path, operation: "renaming into place", reason: errnoDescription())
    }
    renamed = true
    if let reason = syncDirectory(directory) {
      throw AtomicFileError(path: target.path, operation: "flushing the directory", reason: reason)
    }
  }

  /// Replaces the file at `url` with `data` (see ``write(to:contents:)``).
  public static func write(_ data: Data, to url: URL) throws {
    try write(to: url) { sink in try sink.write(data) }
  }

  /// Deletes temporary files left in `directory` by writers that were killed mid-write.
  /// Call it only when no other process writes into `directory`.
  public static func removeStaleTemporaries(in directory: URL) {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
      unlink(directory.appendingPathComponent(name).path)
    }
  }
}

/// A failed atomic write: which file, what step, and the system's reason, on one line.
public struct AtomicFileError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file that was being written.
  public let path: String
  /// The step that failed ("writing", "renaming into place", …).
  public let operation: String
  /// The system's explanation (`strerror`).
  public let reason: String

  public var description: String { "cannot write \(path) (\(operation)): \(reason)" }
}
