import Foundation

/// Memory statistics of the current process, for event logs.
public enum ProcessMemory {
  /// The peak resident set size ("high-water mark") of this process in bytes, from `VmHWM` in
  /// `/proc/self/status`; nil where that file does not exist (non-Linux systems).
  public static func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
      // "VmHWM:	   12345 kB"
      let fields = line.dropFirst("VmHWM:".count).split(whereSeparator: \.isWhitespace)
      guard let kilobytes = fields.first.flatMap({ Int($0) }) else { return nil }
      return kilobytes * 1024
    }
    return nil
  }
}
