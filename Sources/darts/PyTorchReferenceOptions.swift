import ArgumentParser
import Foundation

/// The options of the step benchmarks that also time the PyTorch reference step: the Python to
/// run and the reference script it runs.
struct PyTorchReferenceOptions: ParsableArguments {
  @Option(help: "A Python with torch installed: also time the PyTorch reference step.") var pytorch: String?
  @Option(help: "The PyTorch reference script (default: \(Self.checkoutPath) under the current directory, as in a checkout of the package).") var referenceScript: String?
  @Option(parsing: .unconditional, help: "Alternate the compared runs N times, each in its own process, and report the medians and the ratio of the medians (with --pytorch; bench search --ranks: default 3).") var rounds: Int?

  /// Where a checkout of the package keeps the script, relative to its root.
  static let checkoutPath = "Scripts/reference/darts_reference.py"

  /// The Python and the script, when `--pytorch` is given.
  /// - Throws: `ValidationError` with one line naming `--reference-script` when there is no
  ///   script file where it is looked for.
  func resolved() throws -> (python: String, script: URL)? {
    guard let pytorch else { return nil }
    let path = referenceScript ?? Self.checkoutPath
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
      throw ValidationError(referenceScript == nil
        ? "--pytorch: no PyTorch reference script at \(path) under \(FileManager.default.currentDirectoryPath): pass --reference-script PATH"
        : "--reference-script \(path): no such file")
    }
    return (pytorch, URL(fileURLWithPath: path).standardized)
  }

  func validate() throws {
    _ = try resolved()
    if let rounds, rounds < 1 { throw ValidationError("--rounds must be positive") }
  }
}
