import Evaluation
import Foundation
import NN
import Runs
import SearchSpace
import TensorCore
import XCTest

/// `darts export --onnx` through the binary, checked with onnx and onnxruntime
/// (`Scripts/checks/onnx_parity.py`): the checker passes, onnxruntime's logits equal darts'
/// eval-mode logits within 1e-4 relative, initializers carry the reference names; and bad
/// input gives one clear line.
final class ONNXExportCLITests: XCTestCase {
  /// The parity report of `onnx_parity.py` for one exported network.
  struct Parity: Decodable {
    var checker: String
    var ir_version: Int
    var nodes: Int
    var operators: [String: Int]
    /// Values of the float initializers other than BN running statistics.
    var parameters: Int
    var input: [JSONScalar]
    var output: [JSONScalar]
    var relative_difference: Double
    var missing_initializers: [String]
    var extra_initializers: [String]
    var failures: [String]
  }

  /// A dimension in the report: a size or a symbolic name.
  enum JSONScalar: Decodable, Equatable {
    case size(Int), symbol(String)
    init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      if let n = try? container.decode(Int.self) { self = .size(n) } else { self = .symbol(try container.decode(String.self)) }
    }
  }

  /// Builds `description`'s network with seeded weights and non-trivial BN statistics
  /// (γ ∈ [0.5, 1.5], β, running mean ∈ ±0.5, running variance ∈ [0.5, 2]), writes it
  /// (with its description, or as a bare PyTorch-style state_dict), and returns the file.
  func weightsFile(_ description: NetworkDescription, in directory: URL, bare: Bool = false) throws -> URL {
    var factory = ParameterFactory(backend: CPUBackend(threads: 1), seed: 7)
    let network = description.build(using: &factory)
    var generator = SeededGenerator(seed: 11)
    var values: [String: Tensor] = [:]
    for (name, parameter) in network.namedParameters() {
      let shape = parameter.value.shape
      let count = parameter.value.count
      func uniform(_ low: Float, _ high: Float) -> Tensor {
        Tensor(shape: shape, scalars: (0..<count).map { _ in low + (high - low) * generator.nextUniform() }, on: parameter.value.backend)
      }
      if name.hasSuffix("running_var") { values[name] = uniform(0.5, 2) }
      if name.hasSuffix("running_mean") { values[name] = uniform(-0.5, 0.5) }
      if name.hasSuffix("bias") && shape.count == 1 && !name.hasPrefix("classifier") { values[name] = uniform(-0.3, 0.3) }
      if name.hasSuffix("weight") && shape.count == 1 { values[name] = uniform(0.5, 1.5) }
    }
    try network.update(parameters: values)
    let url = directory.appendingPathComponent("weights.safetensors")
    if bare {
      try Safetensors.write(network.stateDict(), to: url)
    } else {
      try NetworkWeights.write(network, description: description, to: url)
    }
    return url
  }

  /// Exports `weights` (with `options`) and checks the model with onnx and onnxruntime.
  func exportAndCheck(_ weights: URL, _ options: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> Parity {
    let directory = weights.deletingLastPathComponent()
    let (model, sample) = (directory.appendingPathComponent("model.onnx").path, directory.appendingPathComponent("sample.safetensors").path)
    let exported = try runDarts(["export", "--onnx", model, "--checkpoint", weights.path, "--sample", sample] + options)
    XCTAssertEqual(exported.status, 0, exported.err, file: file, line: line)
    XCTAssert(exported.out.contains("exported \(model): ONNX IR 8, opset 17"), exported.out, file: file, line: line)
    let check = try runPythonCheck("onnx_parity.py", [model, sample, "--weights", weights.path])
    XCTAssertEqual(check.status, 0, check.err + check.out, file: file, line: line)
    let parity = try JSONDecoder().decode(Parity.self, from: Data(check.out.utf8))
    XCTAssertEqual(parity.checker, "passed", file: file, line: line)
    XCTAssertEqual(parity.ir_version, 8, file: file, line: line)
    XCTAssertLessThanOrEqual(parity.relative_difference, 1e-4, file: file, line: line)
    XCTAssertEqual(parity.missing_initializers, [], file: file, line: line)
    XCTAssertEqual(parity.extra_initializers, [], file: file, line: line)
    XCTAssertEqual(parity.failures, [], file: file, line: line)
    print("onnx parity: \(parity.nodes) nodes, logits differ by \(parity.relative_difference) of the largest")
    return parity
  }

  func cifar(_ genotype: Genotype, channels: Int = 6, layers: Int = 5, auxiliary: Bool = false) -> NetworkDescription {
    NetworkDescription(
      genotype: genotype, channels: channels, layers: layers, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: auxiliary)
  }

  func testPublishedCIFARGenotypesMatchOnnxruntime() throws {
    for (name, genotype) in [("PDARTS", Genotype.pdarts), ("PC_DARTS_cifar", .pcDartsCIFAR)] {
      let parity = try exportAndCheck(try weightsFile(cifar(genotype), in: try temporaryDirectory()))
      XCTAssertEqual(parity.input, [.symbol("batch"), .size(3), .size(32), .size(32)], name)
      XCTAssertEqual(parity.output, [.symbol("batch"), .size(10)], name)
      // 5 cells of 4 nodes: one Add per node.
      XCTAssertEqual(parity.operators["Add"], 20, name)
    }
    // DARTS_V2 at the reference size (C = 36, L = 20, 3,349,342 parameters) with the auxiliary
    // head: its weights are in the file, not in the graph.
    let directory = try temporaryDirectory()
    let parity = try exportAndCheck(try weightsFile(cifar(.dartsV2, channels: 36, layers: 20, auxiliary: true), in: directory))
    let lastExport = directory.appendingPathComponent("model.onnx")
    XCTAssertEqual(parity.operators["Add"], 80)
    XCTAssertEqual(parity.parameters, 3_349_342)
    // The same file passes the checker of Debian's onnx 1.12 (python3-onnx, which .ci/run installs).
    let debian = Process()
    debian.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    debian.arguments = [pythonCheck("onnx_checker.py"), lastExport.path]
    let checked = try runToEnd(debian)
    XCTAssertEqual(checked.status, 0, "Debian's onnx: \(checked.out)\(checked.err) (apt-get install python3-onnx, as .ci/run does)")
    XCTAssert(checked.out.contains("\"checker\": \"passed\""), checked.out)
  }

  func testNASNetAndAmoebaNetOperationsOnCIFARShapes() throws {
    let nasNet = try exportAndCheck(try weightsFile(cifar(.nasNet), in: try temporaryDirectory()))
    XCTAssertEqual(nasNet.operators["Add"], 25)  // 5 nodes per cell
    let amoebaNet = try exportAndCheck(try weightsFile(cifar(.amoebaNet), in: try temporaryDirectory()))
    XCTAssertNotNil(amoebaNet.operators["MaxPool"])
    XCTAssertNotNil(amoebaNet.operators["AveragePool"])
  }

  func testOneChannelNetworkTrainedOnTheDemoData() throws {
    let run = try temporaryDirectory().appendingPathComponent("run")
    let trained = try runDarts([
      "train", "--limit", "128", "--test-limit", "16", "--batch-size", "16", "--init-channels", "4", "--layers", "3",
      "--epochs", "1", "--max-steps-per-epoch", "3", "--threads", "2", "--run-dir", run.path,
    ])
    XCTAssertEqual(trained.status, 0, trained.err)
    let parity = try exportAndCheck(run.appendingPathComponent("weights.safetensors"))
    XCTAssertEqual(parity.input, [.symbol("batch"), .size(1), .size(28), .size(28)])
  }

  func testImageNetNetworkFromABarePyTorchStyleStateDict() throws {
    // No description in the file: the stem's tensors say ImageNet; classes and input channels
    // come from the tensors, the structure from the flags, the input size defaults to 224.
    let description = NetworkDescription(
      genotype: .pcDartsImageNet, channels: 8, layers: 3, classes: 7, inputChannels: 3, inputSize: 224, auxiliary: false,
      stem: .imageNet)
    let weights = try weightsFile(description, in: try temporaryDirectory(), bare: true)
    let parity = try exportAndCheck(weights, ["--genotype", "PC_DARTS_image", "--init-channels", "8", "--layers", "3", "--sample-batch", "1"])
    XCTAssertEqual(parity.input, [.symbol("batch"), .size(3), .size(224), .size(224)])
    XCTAssertEqual(parity.output, [.symbol("batch"), .size(7)])
  }

  func testZeroOperationsExportAsExactZeros() throws {
    // `none` edges (a genotype of a space that keeps them): zeros of the strided shape.
    let edges = [Genotype.Edge(.none, 0), .init(.sepConv3x3, 1), .init(.none, 2), .init(.skipConnect, 0)]
    let genotype = Genotype(normal: edges, normalConcat: [2, 3], reduce: edges, reduceConcat: [2, 3])
    let parity = try exportAndCheck(try weightsFile(cifar(genotype, layers: 3), in: try temporaryDirectory()))
    XCTAssertEqual(parity.operators["ConstantOfShape"], 6)
  }

  func testBadInputGivesOneClearLine() throws {
    let directory = try temporaryDirectory()
    let model = directory.appendingPathComponent("model.onnx").path
    func failure(_ arguments: [String], mentions text: String, file: StaticString = #filePath, line: UInt = #line) throws {
      let result = try runDarts(["export", "--onnx", model] + arguments)
      XCTAssertNotEqual(result.status, 0, file: file, line: line)
      let errors = result.err.split(separator: "\n").filter { $0.hasPrefix("error:") || $0.hasPrefix("Error:") }
      XCTAssertEqual(errors.count, 1, result.err, file: file, line: line)
      XCTAssert(errors.first?.contains(text) ?? false, result.err, file: file, line: line)
      XCTAssertFalse(FileManager.default.fileExists(atPath: model), file: file, line: line)
    }
    let garbage = directory.appendingPathComponent("garbage.safetensors")
    try Data("not a safetensors file at all".utf8).write(to: garbage)
    try failure(["--checkpoint", garbage.path], mentions: garbage.path)
    try failure(["--checkpoint", directory.appendingPathComponent("missing.safetensors").path], mentions: "missing.safetensors")
    let weights = try weightsFile(cifar(.dartsV2, layers: 3), in: directory)
    try failure(["--checkpoint", weights.path, "--layers", "4"], mentions: "missing")
    try failure(["--checkpoint", weights.path, "--input-size", "30"], mentions: "--input-size")
    try failure(["--checkpoint", weights.path, "--sample", directory.path + "/s", "--sample-batch", "0"], mentions: "--sample-batch")
    // The noise operation draws fresh random values: no ONNX form.
    let noisy = Genotype(normal: [.init(.noise, 0), .init(.skipConnect, 1)], normalConcat: [2], reduce: [.init(.noise, 0), .init(.skipConnect, 1)], reduceConcat: [2])
    let noisyDirectory = directory.appendingPathComponent("noisy")
    try FileManager.default.createDirectory(at: noisyDirectory, withIntermediateDirectories: true)
    try failure(["--checkpoint", try weightsFile(cifar(noisy, layers: 3), in: noisyDirectory).path], mentions: "noise")
  }
}
