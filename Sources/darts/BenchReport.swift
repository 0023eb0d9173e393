import ArgumentParser
import Foundation

/// Output of the step benchmarks (`bench search`, `bench train`) and the run of the PyTorch
/// reference script beside them.
struct BenchReport {
  var batch: Int
  var threads: Int
  var steps: Int
  var json: Bool
  /// Where lines go (only the leader of a data-parallel job prints).
  var say: (String) -> Void = emit

  /// One result line (or JSON object): time, throughput, process peak RSS, and where known
  /// the tensor allocator's peak and the network's weight count.
  func report(engine: String, what: String, ms: Double, peakBytes: Int, tensorBytes: Int? = nil, parameters: Int? = nil) {
    let imagesPerSecond = Double(batch) / (ms / 1000)
    if json {
      let extra = (tensorBytes.map { ",\"peak_tensor_bytes\":\($0)" } ?? "") + (parameters.map { ",\"parameters\":\($0)" } ?? "")
      say("{\"engine\":\"\(engine)\",\"what\":\"\(what)\",\"batch\":\(batch),\"threads\":\(threads),\"median_ms\":\(ms),\"images_per_s\":\(imagesPerSecond),\"peak_bytes\":\(peakBytes)\(extra)}")
    } else {
      let extra = (tensorBytes.map { String(format: ", tensors %.2f GiB", Double($0) / 1_073_741_824) } ?? "")
        + (parameters.map { ", \($0) weights" } ?? "")
      say(String(format: "%-8@ %@  batch %d  threads %d  %9.1f ms/step  %7.1f images/s  peak RSS %.2f GiB%@", engine as NSString, what as NSString, batch, threads, ms, imagesPerSecond, Double(peakBytes) / 1_073_741_824, extra as NSString))
    }
  }

  /// Two steps timed side by side in one process (`SearchStepBenchmark.sideBySide`): a line
  /// (or JSON object) each with the tensor allocator's peak, then the second's throughput and
  /// tensor memory relative to the first's.
  func reportSideBySide(_ results: [(what: String, result: (medianMilliseconds: Double, peakTensorBytes: Int, parameters: Int))]) {
    for (what, r) in results {
      let imagesPerSecond = Double(batch) / (r.medianMilliseconds / 1000)
      if json {
        say("{\"engine\":\"swift\",\"what\":\"\(what)\",\"side_by_side\":true,\"batch\":\(batch),\"threads\":\(threads),\"median_ms\":\(r.medianMilliseconds),\"images_per_s\":\(imagesPerSecond),\"peak_tensor_bytes\":\(r.peakTensorBytes),\"parameters\":\(r.parameters)}")
      } else {
        say(String(format: "%-8@ %@  batch %d  threads %d  %9.1f ms/step  %7.1f images/s  tensors %.2f GiB, %d weights", "swift" as NSString, what as NSString, batch, threads, r.medianMilliseconds, imagesPerSecond, Double(r.peakTensorBytes) / 1_073_741_824, r.parameters))
      }
    }
    let (base, other) = (results[0].result, results[1].result)
    let speed = base.medianMilliseconds / other.medianMilliseconds
    let memory = Double(other.peakTensorBytes) / Double(base.peakTensorBytes)
    if json {
      say("{\"ratio\":\"\(results[1].what) / \(results[0].what)\",\"images_per_s\":\(speed),\"peak_tensor_bytes\":\(memory)}")
    } else {
      say(String(format: "%@ against %@, steps alternated in one process: %.2fx the images per second, %.2fx the tensor memory", results[1].what as NSString, results[0].what as NSString, speed, memory))
    }
  }

  /// Runs the reference script `script` (`darts_reference.py bench`) under `python` with
  /// `reference` (`--what …` and its options) on the same batch, threads and steps, reports it
  /// beside `ours` and prints the ratios.
  func compare(ours: (medianMilliseconds: Double, peakBytes: Int), what: String, pytorch: (python: String, script: URL), reference: [String]) throws {
    let theirs = try runReference(pytorch, arguments: reference)
    report(engine: "pytorch", what: what + " (best step)", ms: theirs.ms, peakBytes: theirs.peakBytes)
    if !json {
      say(String(format: "speed-up %.2fx, peak memory ratio %.2f", theirs.ms / ours.medianMilliseconds, Double(ours.peakBytes) / Double(theirs.peakBytes)))
    }
  }

  /// The reference script's command line for the step `arguments` (`--what …`) at this
  /// report's batch, threads and steps.
  func referenceArguments(_ script: URL, _ arguments: [String]) -> [String] {
    [script.path, "bench"] + arguments + ["--batch", "\(batch)", "--threads", "\(threads)", "--steps", "\(steps)"]
  }

  /// PyTorch's environment: glibc's malloc told to keep large blocks, or page faults make
  /// PyTorch look slower than it is (compare with its best).
  static var referenceEnvironment: [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["MALLOC_MMAP_THRESHOLD_"] = "268435456"
    environment["MALLOC_TRIM_THRESHOLD_"] = "536870912"
    return environment
  }

  /// Runs the PyTorch reference script and reads its JSON line.
  func runReference(_ pytorch: (python: String, script: URL), arguments: [String]) throws -> (ms: Double, peakBytes: Int) {
    let (status, data) = try standardOutput(of: pytorch.python, referenceArguments(pytorch.script, arguments), environment: Self.referenceEnvironment)
    guard status == 0,
      let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
      let ms = (object["min_ms"] ?? object["median_ms"]) as? Double, let peak = object["peak_rss_bytes"] as? Int
    else {
      throw ValidationError("\(pytorch.script.path): the PyTorch reference failed (exit \(status))")
    }
    return (ms, peak)
  }

  /// One result line (or JSON object) of a step timed on `processes` processes sharing each
  /// batch: the throughput of the whole job, and per step the bytes each process all-reduced
  /// and the time it spent in collectives.
  func reportJob(what: String, processes: Int, ms: Double, peakBytes: Int, reducedBytes: Double, collectiveMilliseconds: Double) {
    let imagesPerSecond = Double(batch) / (ms / 1000)
    if json {
      say("{\"engine\":\"swift\",\"what\":\"\(what)\",\"batch\":\(batch),\"threads\":\(threads),\"processes\":\(processes),\"median_ms\":\(ms),\"images_per_s\":\(imagesPerSecond),\"peak_bytes\":\(peakBytes),\"reduced_bytes_per_step\":\(reducedBytes),\"collective_ms_per_step\":\(collectiveMilliseconds)}")
    } else {
      say(String(format: "swift    %@  batch %d  %d processes x %d threads  %9.1f ms/step  %7.1f images/s  peak RSS %.2f GiB per process; all-reduced %.2f MB and %.1f ms in collectives per step", what as NSString, batch, processes, threads, ms, imagesPerSecond, Double(peakBytes) / 1_073_741_824, reducedBytes / 1e6, collectiveMilliseconds))
    }
  }
}

/// Runs `executable arguments…` to its end: its exit status and standard output.
func standardOutput(of executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: Data) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if let environment { process.environment = environment }
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, data)
}
