import Evaluation
import Foundation
import NN
import Runs
import SearchSpace
import TensorCore
import XCTest

/// Weights exchanged with the PyTorch reference (Scripts/reference/make_weights_fixture.py).
final class NetworkWeightsTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func fixture(_ name: String, _ ext: String) throws -> URL {
    try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"), "\(name).\(ext) missing")
  }

  func network(auxiliary: Bool, channels: Int = 8) -> EvaluationNetwork {
    var factory = ParameterFactory(backend: backend, seed: 5)
    return NetworkDescription(genotype: .dartsV2, channels: channels, layers: 5, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: auxiliary).build(using: &factory)
  }

  func temporaryFile(_ name: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("darts-weights-\(UUID().uuidString)-\(name)")
    addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }

  func testPyTorchWeightsGiveThePyTorchLogits() throws {
    let net = network(auxiliary: false)
    try NetworkWeights.load(try NetworkWeights.read(from: fixture("reference_weights", "safetensors")), into: net)
    let io = try Safetensors.read(from: fixture("reference_logits", "safetensors")).tensors(on: backend)
    net.eval()
    var generator = SeededGenerator(seed: 0)
    let (logits, auxiliary) = withoutGradients { net(io["input"]!, generator: &generator) }
    XCTAssertNil(auxiliary)
    XCTAssertEqual(logits.shape, [2, 10])
    let expected = io["logits"]!.scalars
    for (a, b) in zip(logits.scalars, expected) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    XCTAssertGreaterThan(expected.map(abs).max()!, 0.01, "the fixture's logits are not trivial")
  }

  /// A `NetworkImageNet` state_dict saved from `nn.DataParallel` (`module.` names): the file
  /// tells the ImageNet stem by its names, and the loaded network gives PyTorch's logits.
  func testPyTorchImageNetExportGivesThePyTorchLogits() throws {
    let file = try NetworkWeights.read(from: fixture("reference_imagenet_weights", "safetensors"))
    XCTAssertNil(file.description)
    XCTAssertNotNil(file.tensors["stem0.0.weight"], "module. prefix removed")
    XCTAssertFalse(file.hasAuxiliaryHead)
    var factory = ParameterFactory(backend: backend, seed: 5)
    let net = NetworkDescription(
      genotype: .dartsV2, channels: 8, layers: 3, classes: 3, inputChannels: 3, inputSize: 32, auxiliary: false,
      stem: .imageNet, auxiliaryFeatureNorm: false
    ).build(using: &factory)
    try NetworkWeights.load(file, into: net)
    let io = try Safetensors.read(from: fixture("reference_imagenet_logits", "safetensors")).tensors(on: backend)
    net.eval()
    var generator = SeededGenerator(seed: 0)
    let logits = withoutGradients { net(io["input"]!, generator: &generator).logits }
    XCTAssertEqual(logits.shape, [2, 3])
    let expected = io["logits"]!.scalars
    for (a, b) in zip(logits.scalars, expected) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    XCTAssertGreaterThan(expected.map(abs).max()!, 0.01, "the fixture's logits are not trivial")
  }

  /// A file without a description (a PyTorch export) names its network by its tensors: the
  /// ImageNet stem by `stem0.0.weight` (then C = 48, L = 14), else the CIFAR network (C = 36,
  /// L = 20); an auxiliary head and its BN(768) by their weights. A description in the file wins.
  func testTensorNamesTellTheNetworkOfAnExport() throws {
    let imageNet = try NetworkWeights.read(from: fixture("reference_imagenet_weights", "safetensors"))
    XCTAssertEqual(imageNet.stem, .imageNet)
    XCTAssertEqual(
      imageNet.inferredDescription(classes: 3, inputChannels: 3, inputSize: 224),
      NetworkDescription(genotype: .dartsV2, channels: 48, layers: 14, classes: 3, inputChannels: 3, inputSize: 224, auxiliary: false, stem: .imageNet, auxiliaryFeatureNorm: false))
    let cifar = try NetworkWeights.read(from: fixture("reference_weights", "safetensors"))
    XCTAssertEqual(cifar.stem, .cifar)
    XCTAssertEqual(
      cifar.inferredDescription(classes: 10, inputChannels: 3, inputSize: 32),
      NetworkDescription(genotype: .dartsV2, channels: 36, layers: 20, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: false, stem: .cifar, auxiliaryFeatureNorm: false))

    let export = temporaryFile("auxiliary.safetensors")
    try Safetensors.write(network(auxiliary: true).stateDict(), to: export)
    let auxiliary = try NetworkWeights.read(from: export)
    XCTAssertNil(auxiliary.description)
    XCTAssertEqual(
      auxiliary.inferredDescription(classes: 10, inputChannels: 3, inputSize: 32),
      NetworkDescription(genotype: .dartsV2, channels: 36, layers: 20, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: true, stem: .cifar, auxiliaryFeatureNorm: true))

    let ours = temporaryFile("weights.safetensors")
    let described = NetworkDescription(genotype: .dartsV2, channels: 8, layers: 5, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: true)
    try NetworkWeights.write(network(auxiliary: true), description: described, to: ours)
    XCTAssertEqual(try NetworkWeights.read(from: ours).inferredDescription(classes: 3, inputChannels: 1, inputSize: 28), described)
  }

  /// Descriptions written before the ImageNet network was selectable read as the CIFAR network
  /// with BN(768); new ones keep the stem and the flag.
  func testNetworkDescriptionsReadOldAndNewFiles() throws {
    let old = #"{"genotype":\#(String(decoding: try JSONEncoder().encode(Genotype.dartsV2), as: UTF8.self)),"channels":8,"layers":5,"classes":10,"inputChannels":3,"inputSize":32,"auxiliary":true}"#
    let decoded = try JSONDecoder().decode(NetworkDescription.self, from: Data(old.utf8))
    XCTAssertEqual(decoded, NetworkDescription(genotype: .dartsV2, channels: 8, layers: 5, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: true))
    XCTAssertEqual(decoded.stem, .cifar)
    XCTAssertTrue(decoded.auxiliaryFeatureNorm)
    let imageNet = NetworkDescription(
      genotype: .pcDartsImageNet, channels: 48, layers: 14, classes: 1000, inputChannels: 3, inputSize: 224, auxiliary: true,
      stem: .imageNet, auxiliaryFeatureNorm: false)
    XCTAssertEqual(try JSONDecoder().decode(NetworkDescription.self, from: JSONEncoder().encode(imageNet)), imageNet)
    XCTAssertNil(imageNet.problem)
    var odd = imageNet
    odd.channels = 47
    XCTAssertNotNil(odd.problem)
    odd.channels = 48
    odd.inputSize = 32
    XCTAssertEqual(odd.problem, EvaluationNetwork.inputSizeProblem(stem: .imageNet, layers: 14, inputSize: 32, auxiliary: true))
    XCTAssertNotNil(odd.problem)
  }

  func testModulePrefixIsRemovedAndMissingBatchCountersAreAccepted() throws {
    let contents = try Safetensors.read(from: fixture("reference_weights", "safetensors"))
    var tensors: [String: Tensor] = [:]
    for (name, entry) in contents.entries where !name.hasSuffix("num_batches_tracked") {
      tensors["module." + name] = Tensor(shape: entry.shape, scalars: entry.scalars, on: backend)
    }
    let url = temporaryFile("prefixed.safetensors")
    try Safetensors.write(tensors, to: url)
    let reference = network(auxiliary: false)
    try NetworkWeights.load(try NetworkWeights.read(from: fixture("reference_weights", "safetensors")), into: reference)
    let net = network(auxiliary: false)
    try NetworkWeights.load(try NetworkWeights.read(from: url), into: net)
    XCTAssertEqual(net.stateDict()["cells.4._ops.7.op.2.weight"]?.scalars, reference.stateDict()["cells.4._ops.7.op.2.weight"]?.scalars)
  }

  func testStrictLoadingNamesTheFileAndTheTensor() throws {
    let url = try fixture("reference_weights", "safetensors")
    let file = try NetworkWeights.read(from: url)
    // Another width: shapes differ.
    XCTAssertThrowsError(try NetworkWeights.load(file, into: network(auxiliary: false, channels: 12))) { error in
      XCTAssert("\(error)".contains(url.path) && "\(error)".contains("shape"), "\(error)")
    }
    // The auxiliary head is missing from the file.
    XCTAssertThrowsError(try NetworkWeights.load(file, into: network(auxiliary: true))) { error in
      XCTAssert("\(error)".contains("auxiliary_head") && "\(error)".contains("missing"), "\(error)")
    }
    // An extra tensor.
    var tensors = file.tensors.mapValues { Tensor(shape: $0.shape, scalars: $0.scalars, on: backend) }
    tensors["extra.weight"] = Tensor(shape: [1], scalars: [0], on: backend)
    let extra = temporaryFile("extra.safetensors")
    try Safetensors.write(tensors, to: extra)
    XCTAssertThrowsError(try NetworkWeights.load(try NetworkWeights.read(from: extra), into: network(auxiliary: false))) { error in
      XCTAssert("\(error)".contains("unexpected tensor extra.weight"), "\(error)")
    }
  }

  func testOurWeightsHaveExactlyTheReferenceNamesShapesAndDTypes() throws {
    let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixture("reference_names", "json"))) as? [String: [Any]])
    let net = network(auxiliary: true)
    let url = temporaryFile("weights.safetensors")
    let description = NetworkDescription(genotype: .dartsV2, channels: 8, layers: 5, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: true)
    try NetworkWeights.write(net, description: description, to: url)
    let written = try Safetensors.read(from: url)
    XCTAssertEqual(Set(written.entries.keys), Set(expected.keys))
    for (name, entry) in written.entries {
      let reference = try XCTUnwrap(expected[name])
      XCTAssertEqual(entry.shape, (reference[0] as! [NSNumber]).map(\.intValue), name)
      XCTAssertEqual(entry.dtype, reference[1] as! String == "int64" ? .i64 : .f32, name)
    }
    // Our file names its network, and reads back into an equal network.
    let file = try NetworkWeights.read(from: url)
    XCTAssertEqual(file.description, description)
    let copy = network(auxiliary: true, channels: 8)
    try NetworkWeights.load(file, into: copy)
    XCTAssertEqual(copy.stateDict().mapValues(\.scalars), net.stateDict().mapValues(\.scalars))
  }
}
