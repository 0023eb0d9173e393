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
      report(engine: "swift", what: what, ms: result.medianMilliseconds, peakBytes: result.peakBytes, peakKind: "process peak RSS")
      if let pytorch {
        let reference = try runReference(python: pytorch, what: order == 1 ? "search1" : "search2")
        report(engine: "pytorch", what: what + " (best step)", ms: reference.ms, peakBytes: reference.peakBytes, peakKind: "process peak RSS")
        if !json {
          emit(String(format: "speed-up %.2fx, peak memory ratio %.2f", reference.ms / result.medianMilliseconds, Double(result.peakBytes) / Double(reference.peakBytes)))
        }
      }
    }

    func report(engine: String, what: String, ms: Double, peakBytes: Int, peakKind: String) {
      let imagesPerSecond = Double(batch) / (ms / 1000)
      if json {
        emit("{\"engine\":\"\(engine)\",\"what\":\"\(what)\",\"batch\":\(batch),\"threads\":\(threads),\"median_ms\":\(ms),\"images_per_s\":\(imagesPerSecond),\"peak_bytes\":\(peakBytes)}")
      } else {
        emit(String(format: "%-8@ %@  batch %d  threads %d  %9.1f ms/step  %7.1f images/s  peak %.2f GiB (%@)", engine as NSString, what as NSString, batch, threads, ms, imagesPerSecond, Double(peakBytes) / 1_073_741_824, peakKind as NSString))
      }
    }

    /// Runs the PyTorch reference script and reads its JSON line.
    func runReference(python: String, what: String) throws -> (ms: Double, peakBytes: Int) {
      let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Scripts/reference/darts_reference.py").standardized
      let process = Process()
      process.executableURL = URL(fileURLWithPath: python)
      process.arguments = [script.path, "bench", "--what", what, "--batch", "\(batch)", "--threads", "\(threads)", "--steps", "\(steps)"]
      var environment = ProcessInfo.processInfo.environment
      environment["MALLOC_MMAP_THRESHOLD_"] = "268435456"
      environment["MALLOC_TRIM_THRESHOLD_"] = "536870912"
      process.environment = environment
      let pipe = Pipe()
      process.standardOutput = pipe
      try process.run()
      let data = pipe.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      guard process.terminationStatus == 0,
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let ms = (object["min_ms"] ?? object["median_ms"]) as? Double, let peak = object["peak_rss_bytes"] as? Int
      else {
        throw ValidationError("\(script.path): the PyTorch reference failed (exit \(process.terminationStatus))")
      }
      return (ms, peak)
    }
  }
}
