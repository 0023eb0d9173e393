import ArgumentParser
import Benchmarks
import Foundation
import Search

extension BenchCommand {
  struct SearchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "search",
      abstract: "Time one search step at the reference setting (batch 64, C=16, 8 cells, 3x32x32).",
      discussion: """
        Runs the step on random data and prints the median milliseconds, images per second and \
        peak tensor memory. With --pytorch PYTHON, runs the same step in the PyTorch reference \
        (Scripts/reference/darts_reference.py) right after, on the same threads, and prints the \
        ratio.
        """)

    @Option(help: "Architecture gradient order: 1 (first order) or 2 (second order).")
    var order = 1
    @Option(help: "Batch size (both splits).")
    var batch = 64
    @Option(help: "Threads.")
    var threads = 2
    @Option(help: "Timed steps (after one warm-up step); the median is reported.")
    var steps = 3
    @Option(help: "Initial channels C.")
    var channels = 16
    @Option(help: "Cells L.")
    var layers = 8
    @Option(help: "A Python with torch installed: also time the PyTorch reference step.")
    var pytorch: String?
    @Flag(help: "Print JSON lines.")
    var json = false

    func validate() throws {
      guard order == 1 || order == 2 else { throw ValidationError("--order must be 1 or 2") }
      guard batch >= 1, threads >= 1, steps >= 1, channels >= 1, layers >= 3 else {
        throw ValidationError("--batch, --threads, --steps and --channels must be positive and --layers at least 3")
      }
      if pytorch != nil && (channels != 16 || layers != 8) {
        throw ValidationError("--pytorch compares the reference setting only (--channels 16 --layers 8)")
      }
    }

    func run() throws {
      let configuration = SearchNetworkConfiguration(channels: channels, layers: layers)
      let result = try SearchStepBenchmark(
        configuration: configuration, order: order == 1 ? .first : .second, batch: batch, threads: threads, steps: steps
      ).run()
      let what = "darts order \(order)"
      let output = BenchReport(batch: batch, threads: threads, steps: steps, json: json)
      output.report(engine: "swift", what: what, ms: result.medianMilliseconds, peakBytes: result.peakBytes)
      if let pytorch {
        try output.compare(ours: result, what: what, python: pytorch, reference: order == 1 ? "search1" : "search2")
      }
    }
  }
}
