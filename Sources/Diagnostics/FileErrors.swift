import Foundation

/// One line saying why reading the file at `path` failed: "no such file", "is a directory",
/// "permission denied", … instead of Foundation's "The operation could not be completed.
/// (NSCocoaErrorDomain error 256.)". The POSIX cause Foundation wraps is used when there is one.
public func fileReadProblem(_ error: any Error, path: String) -> String {
  var isDirectory: ObjCBool = false
  let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
  if !exists { return "no such file" }
  if isDirectory.boolValue { return "is a directory, not a file" }
  let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
  if let type = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.type] as? FileAttributeType, type != .typeRegular {
    return "is not a regular file (a device, socket or pipe)"
  }
  var cause = error as NSError
  // On Linux the wrapped cause is stored as a Swift error, which `as? NSError` does not match.
  while let underlying = (cause.userInfo[NSUnderlyingErrorKey] as? any Error).map({ $0 as NSError }) { cause = underlying }
  if cause.domain == NSPOSIXErrorDomain, let text = strerror(Int32(cause.code)) {
    return String(cString: text).lowercased()
  }
  if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
  return oneLine(cause.localizedDescription)
}

/// Reads the whole file at `url`.
/// - Throws: ``FileReadError`` with a one-line reason (see ``fileReadProblem(_:path:)``).
public func readFile(_ url: URL, options: Data.ReadingOptions = []) throws(FileReadError) -> Data {
  // A FIFO or a device would block or never end: only regular files are read.
  let resolved = url.resolvingSymlinksInPath().path
  if let type = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.type] as? FileAttributeType, type != .typeRegular {
    throw FileReadError(path: url.path, problem: type == .typeDirectory ? "is a directory, not a file" : "is not a regular file (a device, socket or pipe)")
  }
  do {
    return try Data(contentsOf: url, options: options)
  } catch {
    throw FileReadError(path: url.path, problem: fileReadProblem(error, path: url.path))
  }
}

/// A file that could not be read; the description is one line naming it.
public struct FileReadError: Error, CustomStringConvertible, Equatable, Sendable {
  public let path: String
  public let problem: String

  public init(path: String, problem: String) {
    self.path = path
    self.problem = problem
  }

  public var description: String { "\(path): \(problem)" }
}

/// Joins a possibly multi-line message into one line.
public func oneLine(_ text: String) -> String {
  text.split(whereSeparator: \.isNewline).joined(separator: " ")
}
