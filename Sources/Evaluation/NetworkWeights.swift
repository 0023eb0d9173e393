import Diagnostics
import Foundation
import NN
import Runs
import SearchSpace
import TensorCore

/// Everything that decides the modules of an evaluation network, so that a description plus
/// a seed rebuilds it, and a weights file can say which network it belongs to. Stored in the
/// metadata of `weights.safetensors` and in the training checkpoint.
public struct NetworkDescription: Codable, Sendable, Equatable {
  public var genotype: Genotype
  /// Initial channels C.
  public var channels: Int
  /// Cells L.
  public var layers: Int
  public var classes: Int
  /// Input image channels and side (3×32 for CIFAR, 1×28 for (Fashion-)MNIST).
  public var inputChannels: Int
  public var inputSize: Int
  /// Whether the network has the auxiliary head (its weights are saved even though the test
  /// forward does not use it).
  public var auxiliary: Bool
  /// The macro structure: `NetworkCIFAR` or `NetworkImageNet` (SPEC §1.4, §6.2).
  public var stem: EvaluationNetwork.Stem
  /// Whether the auxiliary head has its BN(768): always for the CIFAR network; for the ImageNet
  /// network in P-DARTS but not in DARTS and PC-DARTS (SPEC §6.2).
  public var auxiliaryFeatureNorm: Bool

  public init(
    genotype: Genotype, channels: Int, layers: Int, classes: Int, inputChannels: Int, inputSize: Int, auxiliary: Bool,
    stem: EvaluationNetwork.Stem = .cifar, auxiliaryFeatureNorm: Bool = true
  ) {
    self.genotype = genotype
    self.channels = channels
    self.layers = layers
    self.classes = classes
    self.inputChannels = inputChannels
    self.inputSize = inputSize
    self.auxiliary = auxiliary
    self.stem = stem
    self.auxiliaryFeatureNorm = auxiliaryFeatureNorm
  }

  /// Reads descriptions written before `stem` and `auxiliaryFeatureNorm` existed as the CIFAR
  /// network with BN(768).
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(
      genotype: c.decode(Genotype.self, forKey: .genotype), channels: c.decode(Int.self, forKey: .channels),
      layers: c.decode(Int.self, forKey: .layers), classes: c.decode(Int.self, forKey: .classes),
      inputChannels: c.decode(Int.self, forKey: .inputChannels), inputSize: c.decode(Int.self, forKey: .inputSize),
      auxiliary: c.decode(Bool.self, forKey: .auxiliary),
      stem: c.decodeIfPresent(EvaluationNetwork.Stem.self, forKey: .stem) ?? .cifar,
      auxiliaryFeatureNorm: c.decodeIfPresent(Bool.self, forKey: .auxiliaryFeatureNorm) ?? true)
  }

  /// The network, initialised from `factory` (PyTorch default initialisers).
  public func build(using factory: inout ParameterFactory) -> EvaluationNetwork {
    EvaluationNetwork(
      genotype: genotype, channels: channels, layers: layers, classes: classes, inputChannels: inputChannels,
      inputSize: inputSize, stem: stem, auxiliary: auxiliary, auxiliaryFeatureNorm: auxiliaryFeatureNorm, using: &factory)
  }

  /// Why this network cannot be built or cannot take its input size, or nil (see
  /// `EvaluationNetwork.inputSizeProblem`; the ImageNet stem also needs an even C).
  public var problem: String? {
    if let problem = NetworkLimits.problem(channels: channels, layers: layers, classes: classes, inputChannels: inputChannels, inputSize: inputSize) {
      return problem
    }
    if let problem = genotype.validationProblem() { return "genotype: \(problem)" }
    if stem == .imageNet && channels % 2 != 0 {
      return "the ImageNet network needs an even --init-channels (its stem0 has C/2 channels), got \(channels)"
    }
    return EvaluationNetwork.inputSizeProblem(stem: stem, layers: layers, inputSize: inputSize, auxiliary: auxiliary)
  }

  /// A lower bound on the memory of the network's weights and, for a `batch` (0: none), of
  /// the feature maps of a training step or of inference.
  public func memoryEstimate(batch: Int, training: Bool) -> MemoryEstimate {
    func cost(_ edges: [Genotype.Edge], _ concat: [Int]) -> MemoryEstimate.CellCost {
      MemoryEstimate.CellCost(edges: edges.map { [$0.operation] }, nodes: edges.count / 2, concatenated: concat.count)
    }
    return MemoryEstimate.cellNetwork(
      channels: channels, layers: layers, cellInputSize: EvaluationNetwork.spatialSizes(stem: stem, layers: 0, inputSize: inputSize).s1,
      normal: cost(genotype.normal, genotype.normalConcat), reduce: cost(genotype.reduce, genotype.reduceConcat),
      batch: batch, training: training)
  }

  /// Why this network cannot be built or run on a `batch` here (``problem``, then the
  /// memory estimate against this machine's memory), or nil.
  public func problem(batch: Int, training: Bool) -> String? {
    problem ?? memoryEstimate(batch: batch, training: training).problem(
      batch == 0 ? "this network" : "a \(training ? "training" : "test") batch of \(batch) on this network")
  }

  /// Metadata key of the description in weight files.
  public static let metadataKey = "network"
}

/// Weights of an evaluation network as safetensors under the PyTorch reference names
/// (SPEC §1.6): parameters, BN running statistics and `num_batches_tracked` (as `I64`), so
/// `model.load_state_dict(safetensors.torch.load_file(path), strict=True)` loads them into the
/// reference `NetworkCIFAR`; and the reverse, with strict name and shape checks.
public enum NetworkWeights {
  /// Writes `network.stateDict()` to `url` atomically, with `description` in the metadata.
  /// - Throws: ``NetworkWeightsError`` without writing anything if a tensor is not finite.
  public static func write(_ network: EvaluationNetwork, description: NetworkDescription, to url: URL) throws {
    let tensors = network.stateDict()
    if let name = tensors.firstNonFiniteName {
      throw NetworkWeightsError("\(url.path): not saved, tensor \(name) holds a NaN or an infinity")
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]  // the same weights give the same bytes
    let json = String(decoding: try encoder.encode(description), as: UTF8.self)
    try Safetensors.write(tensors, metadata: [NetworkDescription.metadataKey: json], to: url)
  }

  /// A weights file read into memory: the model tensors and, when the file was written by this
  /// package (weights or training checkpoint), the network it belongs to.
  public struct File: Sendable {
    public var path: String
    /// Model tensors by reference name (`module.` prefix removed, optimiser state dropped).
    public var tensors: [String: SafetensorsEntry]
    public var description: NetworkDescription?

    /// Whether the file holds auxiliary-head weights.
    public var hasAuxiliaryHead: Bool { tensors.keys.contains { $0.hasPrefix("auxiliary_head.") } }

    /// The macro structure the tensor names show: the ImageNet network's three-convolution
    /// stem has `stem0.0.weight`, the CIFAR network's single convolution has not. A description
    /// in the file wins.
    public var stem: EvaluationNetwork.Stem {
      description?.stem ?? (tensors["stem0.0.weight"] != nil ? .imageNet : .cifar)
    }

    /// The network of this file: the description it holds, else (a state_dict exported from
    /// PyTorch) DARTS_V2 with the reference size of its stem (C = 36, L = 20 for CIFAR; C = 48,
    /// L = 14 for ImageNet), an auxiliary head if the file has one, and the head's BN(768)
    /// if `auxiliary_head.features.6.running_mean` is there. The caller names the images.
    public func inferredDescription(classes: Int, inputChannels: Int, inputSize: Int) -> NetworkDescription {
      if let description { return description }
      let imageNet = stem == .imageNet
      return NetworkDescription(
        genotype: .dartsV2, channels: imageNet ? 48 : 36, layers: imageNet ? 14 : 20, classes: classes,
        inputChannels: inputChannels, inputSize: inputSize, auxiliary: hasAuxiliaryHead, stem: stem,
        auxiliaryFeatureNorm: tensors["auxiliary_head.features.6.running_mean"] != nil)
    }
  }

  /// Reads a weights file: ours (`weights.safetensors`, `checkpoint.safetensors`) or one
  /// exported from the PyTorch reference (`save_file(model.state_dict(), …)`, with or without
  /// `nn.DataParallel`'s `module.` prefix).
  public static func read(from url: URL) throws -> File {
    let contents = try Safetensors.read(from: url)
    if contents.entries["alphas_normal"] != nil {
      throw NetworkWeightsError("\(url.path) is a search checkpoint (a supernet and its α), not a trained network: train the searched cell first (darts train --genotype \(url.deletingLastPathComponent().appendingPathComponent("genotype.json").path))")
    }
    var description: NetworkDescription?
    do {
      if let json = contents.metadata[NetworkDescription.metadataKey] {
        description = try JSONDiagnostics.decode(NetworkDescription.self, from: Data(json.utf8))
      } else if let state = contents.metadata[Checkpoint<CheckpointNetwork>.stateKey] {
        description = try JSONDiagnostics.decode(CheckpointNetwork.self, from: Data(state.utf8), using: JSONCoding.decoder()).network
      }
    } catch {
      throw NetworkWeightsError("\(url.path): the network description in its metadata does not decode: \(error.description)")
    }
    if let problem = description?.problem { throw NetworkWeightsError("\(url.path): the network its metadata describes cannot be built: \(problem)") }
    var tensors = contents.entries.filter { !$0.key.hasPrefix(optimizerPrefix) }
    if !tensors.isEmpty, tensors.keys.allSatisfy({ $0.hasPrefix("module.") }) {
      tensors = Dictionary(uniqueKeysWithValues: tensors.map { (String($0.key.dropFirst("module.".count)), $0.value) })
    }
    return File(path: url.path, tensors: tensors, description: description)
  }

  /// Loads `file` into `network` strictly: every parameter and buffer must be present with its
  /// shape, and no other tensor may be (`num_batches_tracked` may be absent, as in files
  /// written before PyTorch 0.4.1; it is then 0), and every value must be finite.
  /// - Throws: ``NetworkWeightsError`` naming the file and the first offending tensor.
  public static func load(_ file: File, into network: EvaluationNetwork) throws {
    let expected = Dictionary(uniqueKeysWithValues: network.namedParameters().map { ($0.name, $0.parameter.value.shape) })
    let missing = expected.keys.filter { file.tensors[$0] == nil && !$0.hasSuffix(Safetensors.integerSuffix) }.sorted()
    if let first = missing.first {
      throw NetworkWeightsError("\(file.path): tensor \(first) is missing (\(missing.count) missing); the file belongs to another network (check --genotype, --init-channels, --layers, --dataset)")
    }
    let unexpected = file.tensors.keys.filter { expected[$0] == nil }.sorted()
    if let first = unexpected.first {
      throw NetworkWeightsError("\(file.path): unexpected tensor \(first) (\(unexpected.count) unexpected); the file belongs to another network (check --genotype, --init-channels, --layers, --dataset)")
    }
    var values: [String: Tensor] = [:]
    let backend = network.classifier.weight.value.backend
    for (name, entry) in file.tensors {
      let shape = expected[name]!
      guard entry.shape == shape || (shape.isEmpty && entry.shape == [1]) else {
        throw NetworkWeightsError("\(file.path): tensor \(name) has shape \(entry.shape), the network needs \(shape)")
      }
      values[name] = Tensor(shape: shape, scalars: entry.scalars, on: backend)
    }
    if let name = values.firstNonFiniteName {
      throw NetworkWeightsError("\(file.path): tensor \(name) holds a NaN or an infinity")
    }
    try network.update(parameters: values)
  }

  /// Names of optimiser state in our checkpoints (dropped when reading weights).
  public static let optimizerPrefix = "optimizer."

  /// The part of a training checkpoint's state that names its network.
  private struct CheckpointNetwork: Codable {
    var network: NetworkDescription
  }
}

/// Weights that do not fit a network; the description is one line naming the file.
public struct NetworkWeightsError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
