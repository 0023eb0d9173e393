import ArgumentParser
import Benchmarks
import Foundation
import Evaluation
import SearchSpace
import TensorCore

extension BenchCommand {
  struct TrainStep: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "train",
      abstract: "Time one training step of DARTS_V2 (C=36, 20 cells, batch 96, auxiliary head, drop path).",
      discussion: """
        Runs the step on random 3x32x32 data and prints the median milliseconds, images per \
        second and process peak memory. With --pytorch PYTHON, runs the same step in the \
        PyTorch reference (--reference-script, default Scripts/reference/darts_reference.py \
        under the current directory; bench --what train) right after, on the same threads, and prints the ratio. \
        With --profile, runs the steps again on a profiling backend and prints where a step's \
        time goes, per class of kernel: calls, milliseconds, share of the step, GFLOP and \
        minimum GB moved per step and the rate (GFLOP/s for convolutions and matrix products, \
        GB/s for the memory-bound kernels); the time outside every kernel is the autodiff \
        bookkeeping and the rest.
        """)

    @Option(parsing: .unconditional, help: "Batch size.") var batch = 96
    @Option(parsing: .unconditional, help: "Threads.") var threads = 2
    @Option(parsing: .unconditional, help: "Timed steps (after one warm-up step); the median is reported.") var steps = 3
    @Option(parsing: .unconditional, help: "Initial channels C.") var channels = 36
    @Option(parsing: .unconditional, help: "Cells L.") var layers = 20
    @OptionGroup var reference: PyTorchReferenceOptions
    @OptionGroup var backendOption: BackendOption
    @Option(help: "The pass timed: step, or evaluation (an evaluation-mode forward pass of the batch without gradients, the test pass of an epoch).") var pass = BenchmarkedPass.step
    @Flag(help: "Also print where a step's time goes, per class of kernel (steps run again on a profiling backend).") var profile = false
    @Flag(help: "Print JSON lines.") var json = false

    var what: String { "train DARTS_V2 C=\(channels) L=\(layers)\(pass.suffix)" }

    func validate() throws {
      guard batch >= 1, threads >= 1, steps >= 1, channels >= 1, layers >= 3 else {
        throw ValidationError("--batch, --threads, --steps and --channels must be positive and --layers at least 3")
      }
      let network = NetworkDescription(genotype: .dartsV2, channels: channels, layers: layers, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: true)
      if let problem = CPUBackend.threadCountProblem(threads) ?? network.problem(batch: batch, training: true) { throw ValidationError(problem) }
      if pass == .weightsOnly { throw ValidationError("--pass weights-only applies to bench search (a training step has no architecture step)") }
      if reference.pytorch != nil && pass != .step { throw ValidationError("--pytorch compares the full step only (--pass step)") }
      if reference.pytorch != nil && (channels != 36 || layers != 20) {
        throw ValidationError("--pytorch compares the reference setting only (--channels 36 --layers 20)")
      }
    }

    func run() throws {
      if let rounds = reference.rounds, let pytorch = try reference.resolved() {
        let comparison = PyTorchComparison(pytorch: pytorch, cases: [(what, ["--what", "train"])], rounds: rounds)
        try comparison.run(BenchReport(batch: batch, threads: threads, steps: steps, json: json))
        return
      }
      var benchmark = TrainStepBenchmark(channels: channels, layers: layers, batch: batch, threads: threads, steps: steps)
      benchmark.backend = backendOption.backend
      benchmark.pass = pass
      let result = try benchmark.run()
      let output = BenchReport(batch: batch, threads: threads, steps: steps, json: json)
      output.report(engine: backendOption.engineName, what: what, ms: result.medianMilliseconds, peakBytes: result.peakBytes, tensorBytes: result.peakTensorBytes)
      if let pytorch = try reference.resolved() {
        try output.compare(ours: (result.medianMilliseconds, result.peakBytes), what: what, pytorch: pytorch, reference: ["--what", "train"])
      }
      if profile {
        output.reportProfile(what: what, try benchmark.profile(), unprofiledMilliseconds: result.medianMilliseconds)
      }
    }
  }
}
