import ArgumentParser
import Benchmarks
import DataParallel
import Foundation
import Search
import SearchSpace
import TensorCore

extension BenchCommand {
  struct SearchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "search",
      abstract: "Time one search step of DARTS, PC-DARTS or each P-DARTS stage (batch 64, 3x32x32).",
      discussion: """
        Runs the step on random data and prints the median milliseconds, images per second and \
        peak memory (process peak RSS, and the tensor allocator's peak after the warm-up step). \
        darts: C=16, 8 cells (SPEC §2.2). pc-darts: the same with K partial channels and edge \
        normalisation. p-darts: each stage's network, 5/11/17 cells with 8/5/3 operations per \
        edge (fixed cyclic subsets, see SearchStepBenchmark.cyclicOperations) and skip dropout \
        0.1/0.4/0.7; the peak figures of stages 2 and 3 include the stages before them (run \
        --stage N alone for one stage's own peak). With \
        --pytorch PYTHON, runs the same step in the PyTorch reference \
        (--reference-script, default Scripts/reference/darts_reference.py under the current \
        directory) right after, on the same threads, and prints the \
        ratio. With --beside-darts (pc-darts), times the DARTS step in the same process, steps \
        alternating, and prints the throughput and tensor-memory ratios. \
        Under mpirun (mpirun -np N darts bench search …) the N processes share every batch as a \
        data-parallel search does (--batch is the global batch) and the leader prints the job's \
        throughput, the bytes each process all-reduced per step and the time spent in \
        collectives. With --ranks N, runs the step --rounds times on N processes of \
        --threads/N threads each (through mpirun) and alternately on one process of --threads \
        threads, and prints the medians and their ratio. With --profile, runs each step again \
        on a profiling backend and prints where its time goes, per class of kernel (as bench \
        train --profile does).
        """)

    @Option(help: "Search method: \(SearchMethodBenchmark.all.map(\.method.rawValue).listed()).")
    var method: SearchSettings.Method = .darts
    @Option(parsing: .unconditional, help: "Architecture gradient order: 1 (first order) or 2 (second order, darts only).")
    var order = 1
    @Option(parsing: .unconditional, help: "PC-DARTS partial channels K.")
    var partialChannels = 4
    @Option(parsing: .unconditional, help: "P-DARTS: time only this stage (1, 2 or 3; default: all three).")
    var stage: Int?
    @Option(parsing: .unconditional, help: "Batch size (both splits).")
    var batch = 64
    @Option(parsing: .unconditional, help: "Threads.")
    var threads = 2
    @Option(parsing: .unconditional, help: "Timed steps (after one warm-up step); the median is reported.")
    var steps = 3
    @Option(parsing: .unconditional, help: "Initial channels C.")
    var channels = 16
    @Option(parsing: .unconditional, help: "Cells L.")
    var layers = 8
    @OptionGroup var reference: PyTorchReferenceOptions
    @OptionGroup var backendOption: BackendOption
    @Flag(help: "pc-darts: time the DARTS step too, alternating with this method's steps in one process, and print the ratios.")
    var besideDarts = false
    @Flag(help: "Also print where a step's time goes, per class of kernel (steps run again on a profiling backend).")
    var profile = false
    @Option(help: "The pass timed: step, weights-only (the weight step alone, as in the warm-up epochs of PC-DARTS and P-DARTS) or evaluation (an evaluation-mode forward pass of the batch without gradients, the validation passes).")
    var pass = BenchmarkedPass.step
    @Flag(help: "Print JSON lines.")
    var json = false
    @Option(parsing: .unconditional, help: "Compare N processes of --threads/N threads each (started with mpirun) against one process of --threads threads.")
    var ranks: Int?

    func validate() throws {
      guard order == 1 || order == 2 else { throw ValidationError("--order must be 1 or 2") }
      guard batch >= 1, threads >= 1, steps >= 1, channels >= 1, layers >= 3 else {
        throw ValidationError("--batch, --threads, --steps and --channels must be positive and --layers at least 3")
      }
      if let problem = CPUBackend.threadCountProblem(threads) ?? NetworkLimits.problem(channels: channels, layers: layers, minimumLayers: 3, channelsFlag: "--channels")
        ?? SearchNetworkConfiguration(channels: channels, layers: layers).memoryEstimate(inputSize: 32, batch: batch).problem("a batch of \(batch) on this supernet") {
        throw ValidationError(problem)
      }
      guard let benchmark = SearchMethodBenchmark.of(method) else {
        throw ValidationError("--method \(method) has no search benchmark (\(SearchMethodBenchmark.all.map(\.method.rawValue).listed()))")
      }
      if let problem = benchmark.problem(options, pytorch: reference.pytorch != nil, besideDarts: besideDarts) { throw ValidationError(problem) }
      if let ranks {
        guard ranks >= 2, threads % ranks == 0 else { throw ValidationError("--ranks must be at least 2 and divide --threads \(threads)") }
        guard reference.pytorch == nil, !besideDarts else { throw ValidationError("--ranks takes neither --pytorch nor --beside-darts") }
      }
      if pass != .step && (reference.pytorch != nil || ranks != nil || besideDarts) {
        throw ValidationError("--pass \(pass.rawValue) takes none of --pytorch, --ranks and --beside-darts (they compare full steps)")
      }
      if profile && (ranks != nil || besideDarts) { throw ValidationError("--profile takes neither --ranks nor --beside-darts") }
    }

    /// The options that choose and size the steps.
    var options: SearchMethodBenchmark.Options {
      .init(order: order, partialChannels: partialChannels, stage: stage, batch: batch, threads: threads, steps: steps, channels: channels, layers: layers)
    }

    /// The benchmarks to run (the method's, validated).
    func cases() -> [SearchMethodBenchmark.Case] { (SearchMethodBenchmark.of(method)?.cases(options) ?? []).map(onBackend) }

    /// `item` with its step run on the `--backend` backend.
    private func onBackend(_ item: SearchMethodBenchmark.Case) -> SearchMethodBenchmark.Case {
      var benchmark = item.benchmark
      benchmark.backend = backendOption.backend
      benchmark.pass = pass
      return (item.what + pass.suffix, benchmark, item.reference)
    }

    func run() throws {
      if let ranks {
        try ProcessCountComparison(ranks: ranks, threads: threads, rounds: reference.rounds ?? 3, json: json).run()
        return
      }
      if let rounds = reference.rounds, let pytorch = try reference.resolved() {
        let comparison = PyTorchComparison(pytorch: pytorch, cases: cases().map { ($0.what, $0.reference) }, rounds: rounds)
        try comparison.run(BenchReport(batch: batch, threads: threads, steps: steps, json: json))
        return
      }
      try runningAsJob { group, say in
        var output = BenchReport(batch: batch, threads: threads, steps: steps, json: json)
        output.say = say
        if besideDarts {
          // The methods that take --beside-darts run first order on the reference network, as DARTS does here.
          let (darts, item) = (onBackend(SearchMethodBenchmark.darts.cases(options)[0]), cases()[0])
          let results = try SearchStepBenchmark.sideBySide(darts.benchmark, item.benchmark)
          output.reportSideBySide([(darts.what, results[0]), (item.what, results[1])])
          return
        }
        let parallelism = try BatchParallelism.shared(batchSize: batch, microBatches: nil, group: group)
        let pytorch = try reference.resolved()
        for item in cases() {
          var benchmark = item.benchmark
          benchmark.parallelism = parallelism
          let result = try benchmark.run()
          if group.isDistributed {
            output.reportJob(
              what: item.what, processes: group.size, ms: result.medianMilliseconds, peakBytes: result.peakBytes,
              reducedBytes: result.reducedBytesPerStep, collectiveMilliseconds: 1000 * result.collectiveSecondsPerStep)
          } else {
            output.report(engine: backendOption.engineName, what: item.what, ms: result.medianMilliseconds, peakBytes: result.peakBytes, tensorBytes: result.peakTensorBytes, parameters: result.parameters)
            if let pytorch {
              try output.compare(ours: (result.medianMilliseconds, result.peakBytes), what: item.what, pytorch: pytorch, reference: item.reference)
            }
          }
          // Every process of a job profiles (the steps all-reduce); the leader prints.
          if profile {
            output.reportProfile(what: item.what, try benchmark.profile(), unprofiledMilliseconds: result.medianMilliseconds)
          }
        }
      }
    }
  }
}
