import Evaluation
import Foundation
import NN
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// Counts, names and shapes against the PyTorch reference
/// (`Scripts/reference/darts_reference.py eval-fixture` → `Fixtures/evaluation_networks.json`).
final class ReferenceNetworkTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  /// The two reference settings of the fixture: CIFAR-10 (C = 36, L = 20, 10 classes) and
  /// ImageNet (C = 48, L = 14, 1000 classes).
  func network(
    _ genotype: Genotype, imageNet: Bool, auxiliary: Bool, auxiliaryFeatureNorm: Bool? = nil
  ) -> EvaluationNetwork {
    var factory = ParameterFactory(backend: backend, seed: 0)
    if imageNet {
      return EvaluationNetwork(
        genotype: genotype, channels: 48, layers: 14, classes: 1000, inputSize: 224, stem: .imageNet,
        auxiliary: auxiliary, auxiliaryFeatureNorm: auxiliaryFeatureNorm ?? false, using: &factory)
    }
    return EvaluationNetwork(genotype: genotype, channels: 36, layers: 20, classes: 10, auxiliary: auxiliary, using: &factory)
  }

  func testParameterCountsOfEveryBuiltInGenotypeOnCIFARAndImageNet() throws {
    let counts = try Fixture("evaluation_networks", in: .module).root.object("counts")
    for setting in ["cifar", "imagenet"] {
      let expected = counts.object(setting)
      XCTAssertEqual(expected.count, 7, setting)
      for (name, count) in expected {
        let genotype = try XCTUnwrap(Genotype.published[name], name)
        let got = network(genotype, imageNet: setting == "imagenet", auxiliary: false).referenceParameterCount
        XCTAssertEqual(got, (count as! NSNumber).intValue, "\(name) on \(setting)")
      }
    }
    // The published sizes (SPEC §9): DARTS_V2 3.3M CIFAR / 4.7M ImageNet, and the counts do
    // not depend on whether the auxiliary head is built.
    XCTAssertEqual(network(.dartsV2, imageNet: false, auxiliary: true).referenceParameterCount, 3_349_342)
    XCTAssertEqual(network(.dartsV2, imageNet: true, auxiliary: true).referenceParameterCount, 4_718_752)
  }

  func testStateDictNamesAndShapesEqualTheReferenceInOrder() throws {
    let shapes = try Fixture("evaluation_networks", in: .module).root.object("state_dict_shapes")
    func entries(_ key: String) -> [String] {
      (shapes[key] as! [[Any]]).map { "\($0[0] as! String) \(($0[1] as! [NSNumber]).map(\.intValue))" }
    }
    func entries(_ net: EvaluationNetwork) -> [String] { net.namedParameters().map { "\($0.name) \($0.parameter.value.shape)" } }

    let cifar = entries(network(.dartsV2, imageNet: false, auxiliary: true))
    XCTAssertEqual(cifar.count, entries("DARTS_V2_cifar").count)
    XCTAssertEqual(cifar, entries("DARTS_V2_cifar"))
    let imageNet = entries(network(.dartsV2, imageNet: true, auxiliary: true))
    XCTAssertEqual(imageNet.count, entries("DARTS_V2_imagenet").count)
    XCTAssertEqual(imageNet, entries("DARTS_V2_imagenet"))
    XCTAssert(imageNet.contains("stem1.1.weight [48, 48, 3, 3]"))
    XCTAssertFalse(imageNet.contains { $0.hasPrefix("auxiliary_head.features.6.") }, "DARTS head: features.6 is the ReLU")

    let pdartsHead = entries(network(.dartsV2, imageNet: true, auxiliary: true, auxiliaryFeatureNorm: true)).filter { $0.hasPrefix("auxiliary_head.") }
    XCTAssertEqual(pdartsHead, entries("imagenet_auxiliary_head_bn768"))
  }

  /// A small ImageNet-structure network with AmoebaNet cells (sep_conv_7x7, conv_7x1_1x7,
  /// concat [3, 4, 6]) loaded from the reference's state dict gives the reference's logits in
  /// eval mode: the two-part stem, cell 0's FactorizedReduce on stem0 and the BN buffers are
  /// wired as in PyTorch.
  func testImageNetLogitsEqualTheReference() throws {
    let forward = try Fixture("evaluation_networks", in: .module).root.object("imagenet_forward")
    let config = forward.object("config")
    XCTAssertEqual(forward["genotype"] as? String, "AmoebaNet")
    var factory = ParameterFactory(backend: backend, seed: 0)
    let net = EvaluationNetwork(
      genotype: .amoebaNet, channels: Int(config.number("C")), layers: Int(config.number("layers")), classes: Int(config.number("classes")),
      inputSize: Int(config.number("input_size")), stem: .imageNet, auxiliary: false, using: &factory)
    let state = forward.object("state")
    XCTAssertEqual(Set(state.keys), Set(net.namedParameters().map(\.name)))
    try net.update(parameters: Dictionary(uniqueKeysWithValues: state.keys.map { ($0, state.tensor($0, on: backend)) }))
    net.eval()
    var generator = SeededGenerator(seed: 0)
    let logits = withoutGradients { net(forward.tensor("input", on: backend), generator: &generator).logits }
    let expected = forward.object("logits")
    XCTAssertEqual(logits.shape, expected.shape)
    assertClose(logits.scalars, expected.floats("data"), rtol: 1e-4, atol: 1e-5)
  }
}
