import ArgumentParser
import Evaluation
import Foundation
import NN
import ONNXExport
import Runs
import TensorCore

struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write trained weights as an ONNX model (evaluation mode, dynamic batch).",
    discussion: """
      --checkpoint takes what darts test takes: a weights.safetensors or checkpoint.safetensors \
      of a darts run (which names its network), or a state_dict exported from the PyTorch \
      reference network (then give --genotype, --init-channels and --layers as trained; the \
      classes and input channels are read from its tensors). The model is ONNX IR \
      \(ONNXModel.irVersion), opset \(ONNXModel.opsetVersion): input 'input' [batch, C, H, W], \
      output 'logits' [batch, classes]; BNs are BatchNormalization nodes with the running \
      statistics; no drop path, no auxiliary head; node and initializer names are the \
      reference module and state_dict names. --sample writes a seeded standard-normal batch \
      and darts' own logits for it (safetensors tensors 'input' and 'logits'), to check a \
      runtime against.
      """)

  @Option(help: "The ONNX file to write.") var onnx: String
  @Option(help: "The weights file.") var checkpoint: String
  @Option(help: "Genotype name or JSON file (default: the one the file names, else DARTS_V2).") var genotype: String?
  @Option(parsing: .unconditional, help: "Initial channels C (default: as the file says, else 36, or 48 for the ImageNet network).") var initChannels: Int?
  @Option(parsing: .unconditional, help: "Cells L (default: as the file says, else 20, or 14 for the ImageNet network).") var layers: Int?
  @Option(parsing: .unconditional, help: "Height = width of the model's input (default: the size the network was trained at, else 32, or 224 for the ImageNet network).") var inputSize: Int?
  @Option(help: "Also write a sample batch and darts' eval-mode logits for it to this safetensors file.") var sample: String?
  @Option(parsing: .unconditional, help: "Images in the --sample batch (1…64).") var sampleBatch = 2
  @Option(parsing: .unconditional, help: "Seed of the --sample batch.") var sampleSeed: UInt64 = 0
  @Option(parsing: .unconditional, help: "Threads (for --sample).") var threads = 2
  @OptionGroup var backendOption: BackendOption

  func validate() throws {
    guard (1...64).contains(sampleBatch) else { throw ValidationError("--sample-batch must be 1…64, got \(sampleBatch)") }
    if let problem = CPUBackend.threadCountProblem(threads) { throw ValidationError(problem) }
  }

  func run() throws {
    try reportingFailures {
      let file = try NetworkWeights.read(from: URL(fileURLWithPath: checkpoint))
      let imageNet = file.stem == .imageNet
      guard let classifier = file.tensors["classifier.weight"], classifier.shape.count == 2,
        let stemWeight = file.tensors[imageNet ? "stem0.0.weight" : "stem.0.weight"], stemWeight.shape.count == 4
      else {
        throw ValidationError("\(checkpoint): no classifier.weight [classes, features] and \(imageNet ? "stem0.0.weight" : "stem.0.weight") [C, channels, 3, 3]: not the weights of an evaluation network")
      }
      var description = file.inferredDescription(
        classes: classifier.shape[0], inputChannels: stemWeight.shape[1], inputSize: imageNet ? 224 : 32)
      if let genotype { description.genotype = try GenotypeCommand.load(genotype) }
      if let initChannels { description.channels = initChannels }
      if let layers { description.layers = layers }
      if let problem = description.problem { throw ValidationError("\(checkpoint): \(problem)") }
      var exported = description  // the graph: at the requested size, no auxiliary head
      (exported.inputSize, exported.auxiliary) = (inputSize ?? description.inputSize, false)
      if let problem = exported.problem(batch: sample == nil ? 0 : sampleBatch, training: false) {
        throw ValidationError("--input-size: \(problem)")
      }
      let backend = backendOption.backend.make(threads: threads)
      var factory = ParameterFactory(backend: backend, seed: 0)
      let network = description.build(using: &factory)
      try NetworkWeights.load(file, into: network)
      network.eval()

      let model = try ONNXExport.model(
        of: network, inputChannels: exported.inputChannels, inputSize: exported.inputSize, classes: exported.classes,
        producerVersion: DartsCommand.configuration.version,
        documentation: "darts \(exported.stem.rawValue) network, C = \(exported.channels), L = \(exported.layers), genotype \(exported.genotype)")
      let bytes = model.encoded()
      try bytes.withUnsafeBytes { raw in try AtomicFile.write(to: URL(fileURLWithPath: onnx)) { try $0.write(raw) } }
      let parameters = model.initializers.reduce(0) { total, tensor in
        if case .float(let values) = tensor.elements { return total + values.count } else { return total }
      }
      emit("exported \(onnx): ONNX IR \(ONNXModel.irVersion), opset \(ONNXModel.opsetVersion), \(model.nodes.count) nodes, \(model.initializers.count) initializers (\(parameters) values), \(bytes.count) bytes; input 'input' [batch, \(exported.inputChannels), \(exported.inputSize), \(exported.inputSize)], output 'logits' [batch, \(exported.classes)]")

      if let sample {
        var generator = SeededGenerator(seed: sampleSeed)
        let images = Tensor.randomNormal(
          [sampleBatch, exported.inputChannels, exported.inputSize, exported.inputSize], generator: &generator, on: backend)
        let logits = network(images, generator: &generator).logits
        guard logits.scalars.allSatisfy(\.isFinite) else {
          throw ValidationError("\(checkpoint): the network's logits on the sample batch are not finite")
        }
        try Safetensors.write(["input": images, "logits": logits], to: URL(fileURLWithPath: sample))
        emit("sample: \(sampleBatch) standard-normal images (seed \(sampleSeed)) and their logits in \(sample)")
      }
    }
  }
}
