import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

// Thin wrappers over the system calls the run machinery needs (Foundation's file APIs hide
// `fsync`, `O_EXCL` and `ftruncate`, which atomic writes and log repair depend on).

/// The text of the current `errno` ("Permission denied").
func errnoDescription(_ code: Int32 = errno) -> String {
  String(cString: strerror(code))
}

/// Writes every byte of `bytes` to `descriptor`, retrying short writes and interrupted calls.
/// Returns nil on success, the `errno` text on failure.
func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> String? {
  guard var next = bytes.baseAddress else { return nil }
  var remaining = bytes.count
  while remaining > 0 {
    let written = write(descriptor, next, remaining)
    if written < 0 {
      if errno == EINTR { continue }
      return errnoDescription()
    }
    next += written
    remaining -= written
  }
  return nil
}

/// Flushes a directory's entries (a rename inside it) to disk. Returns nil on success.
func syncDirectory(_ path: String) -> String? {
  let descriptor = open(path, O_RDONLY | O_DIRECTORY)
  guard descriptor >= 0 else { return errnoDescription() }
  defer { close(descriptor) }
  return fsync(descriptor) == 0 ? nil : errnoDescription()
}

/// This machine's host name (`gethostname`), "localhost" if it has none.
func hostName() -> String {
  var buffer = [CChar](repeating: 0, count: 256)
  guard gethostname(&buffer, buffer.count - 1) == 0, buffer[0] != 0 else { return "localhost" }
  return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
