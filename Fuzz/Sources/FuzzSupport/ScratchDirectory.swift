import Foundation

/// A directory of one fuzzing process, for targets whose parser is reached through a file: each
/// input is written to a file in it and read back through the package's public file API.
///
/// It lives under `$TMPDIR` (which `Scripts/fuzz.sh` points at a directory it removes), named
/// after the target and the process so that forked fuzzing jobs do not share files.
public struct ScratchDirectory: Sendable {
  /// The directory.
  public let url: URL

  /// Creates an empty directory for `target`; a fuzzer that cannot create one stops at once.
  public init(target: String) {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("\(target)-\(getpid())", isDirectory: true)
    try? FileManager.default.removeItem(at: url)
    do {
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
      fatalError("\(url.path): cannot create the fuzzer's scratch directory: \(error.localizedDescription)")
    }
  }

  /// Writes `bytes` to the file `name` in the directory, replacing it, and returns its URL.
  ///
  /// A new file each time, written with plain POSIX calls: Foundation's `Data.write(to:)` syncs
  /// every file to the disk, and so does ext4 when a file with data is truncated, which would
  /// make the disk, not the parser, the speed limit of fuzzing.
  @discardableResult
  public func write(_ bytes: some Collection<UInt8>, to name: String) -> URL {
    let file = url.appendingPathComponent(name)
    unlink(file.path)
    let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    var written = 0
    if descriptor >= 0 {
      written = Array(bytes).withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
          let count = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
          guard count > 0 else { break }
          offset += count
        }
        return offset
      }
      close(descriptor)
    }
    guard descriptor >= 0, written == bytes.count else {
      fatalError("\(file.path): cannot write the fuzzer's input: \(String(cString: strerror(errno)))")
    }
    return file
  }

  /// Removes the file `name` from the directory, if it is there.
  public func remove(_ name: String) {
    try? FileManager.default.removeItem(at: url.appendingPathComponent(name))
  }
}
