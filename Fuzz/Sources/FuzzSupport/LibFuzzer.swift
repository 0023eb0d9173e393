import CLibFuzzer
import Foundation

/// Runs libFuzzer with the process's command-line flags, calling `test` once per input, and
/// exits with libFuzzer's status (non-zero after a finding).
///
/// `test` is the target's `LLVMFuzzerTestOneInput`: it must return 0 and must not keep the input.
public func runLibFuzzer(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
  var argc = CommandLine.argc
  var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
  exit(LLVMFuzzerRunDriver(&argc, &argv, test))
}
