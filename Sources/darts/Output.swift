import Foundation

/// Writes one line to standard output immediately (unbuffered, so progress shows as it happens).
func emit(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
