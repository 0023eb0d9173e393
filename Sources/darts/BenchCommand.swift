import ArgumentParser
import Benchmarks
import Foundation
import TensorCore

extension BenchmarkedPass: ExpressibleByArgument {}

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure this machine: kernels, search steps and training steps.",
    subcommands: [Kernels.self, SearchStep.self, TrainStep.self])

  struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Time every CPU kernel on the DARTS shapes, beside memory bandwidth and GEMM peak.",
      discussion: """
        Each kernel runs on 1 thread and on --threads threads. GB/s counts bytes read plus \
        written; '%copy' is the ratio to the measured DRAM copy bandwidth (the bound of the \
        memory-bound kernels), '%gemm' the ratio to the best 512³ GEMM rate. Build in release \
        mode: debug builds are 10–100x slower.
        """)

    @Option(parsing: .unconditional, help: "Threads for the threaded runs.")
    var threads = 2

    @Option(parsing: .unconditional, help: "Seconds spent timing each entry.")
    var budget = 0.25

    @Flag(help: "Print one JSON object per line (name, threads, ms, gflops, gbps).")
    var json = false

    func validate() throws {
      if let problem = CPUBackend.threadCountProblem(threads) { throw ValidationError(problem) }
      guard budget > 0 else { throw ValidationError("--budget must be positive") }
    }

    func run() throws {
      var copyRate = 0.0
      var gemmRate = 0.0
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys]
      if !json {
        emit("name".padding(toLength: 44, withPad: " ", startingAt: 0) + "thr        ms    GFLOP/s     GB/s   %copy   %gemm")
      }
      KernelBenchmarks(threads: threads, budget: budget).run { r in
        if r.name.hasPrefix("copy") && r.name.contains("DRAM") { copyRate = max(copyRate, r.gbps) }
        if r.name.hasPrefix("gemm") { gemmRate = max(gemmRate, r.gflops) }
        if json {
          if let data = try? encoder.encode(r), let line = String(data: data, encoding: .utf8) { print(line) }
        } else {
          let copyShare = copyRate > 0 && !r.name.hasPrefix("copy") ? String(format: "%6.0f%%", 100 * r.gbps / copyRate) : "      -"
          let gemmShare = gemmRate > 0 && r.gflops > 0 ? String(format: "%6.0f%%", 100 * r.gflops / gemmRate) : "      -"
          emit(
            r.name.padding(toLength: 44, withPad: " ", startingAt: 0)
              + String(format: "%3d %9.3f %10.1f %8.1f", r.threads, r.ms, r.gflops, r.gbps)
              + " \(copyShare) \(gemmShare)")
        }
      }
    }
  }
}
