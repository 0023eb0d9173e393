import Foundation
import XCTest

/// The Python interpreter with onnx, onnxruntime and tensorboard that `Scripts/python-tools.sh`
/// installs (and `.ci/run` runs): `$DARTS_PYTHON`, else the script's default location. Tests
/// that need it fail when it is missing, naming the script.
var pythonTools: URL {
  get throws {
    let environment = ProcessInfo.processInfo.environment
    let path = environment["DARTS_PYTHON"]
      ?? ((environment["DARTS_PYTHON_TOOLS"] ?? NSHomeDirectory() + "/.cache/darts/python-tools") + "/bin/python3")
    guard FileManager.default.isExecutableFile(atPath: path) else {
      struct MissingPython: Error, CustomStringConvertible { let description: String }
      throw MissingPython(description: "no Python with onnx, onnxruntime and tensorboard at \(path): run bash Scripts/python-tools.sh (as .ci/run does), or set DARTS_PYTHON")
    }
    return URL(fileURLWithPath: path)
  }
}

/// A check script of `Scripts/checks/` (the Python side of the ONNX and TensorBoard tests).
func pythonCheck(_ name: String) -> String {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Scripts/checks/\(name)").path
}

/// Runs `Scripts/checks/<script> arguments…` with ``pythonTools``; returns status, stdout, stderr.
func runPythonCheck(_ script: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
  let process = Process()
  process.executableURL = try pythonTools
  process.arguments = [pythonCheck(script)] + arguments
  return try runToEnd(process)
}
