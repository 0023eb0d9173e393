import ArgumentParser
import TensorCore

/// `--backend`, for every command that computes with tensors.
struct BackendOption: ParsableArguments {
  @Option(help: ArgumentHelp(
    "Where tensors live and kernels run: \(BackendKind.names). reference runs every primitive as a plain single-threaded loop (a slow checking tool: results agree with cpu within rounding; --threads is ignored)."))
  var backend: BackendKind = .cpu

  /// How benchmark reports name this engine: `swift`, or `swift-reference`.
  var engineName: String { backend == .cpu ? "swift" : "swift-\(backend.rawValue)" }
}

extension BackendKind: ExpressibleByArgument {}
