import Evaluation
import NN
import SearchSpace
import TensorCore
import XCTest

/// Evaluation networks built from genotypes: reference parameter counts and names.
final class EvaluationNetworkTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func network(_ genotype: Genotype, channels: Int = 36, layers: Int = 20, auxiliary: Bool = true) -> EvaluationNetwork {
    var factory = ParameterFactory(backend: backend, seed: 0)
    return EvaluationNetwork(genotype: genotype, channels: channels, layers: layers, classes: 10, auxiliary: auxiliary, using: &factory)
  }

  func testDARTSV2HasTheReferenceParameterCount() {
    XCTAssertEqual(network(.dartsV2).referenceParameterCount, 3_349_342)
  }

  func testReferenceNamesIncludingTheAuxiliaryHead() {
    let names = Set(network(.dartsV2).namedParameters().map(\.name))
    for expected in [
      "stem.0.weight", "stem.1.running_var", "cells.0.preprocess0.op.1.weight", "cells.0.preprocess0.op.2.weight",
      "cells.7.preprocess0.conv_1.weight", "cells.0._ops.0.op.1.weight", "cells.0._ops.7.op.2.weight",
      "auxiliary_head.features.2.weight", "auxiliary_head.features.3.running_mean",
      "auxiliary_head.features.5.weight", "auxiliary_head.features.6.weight", "auxiliary_head.classifier.bias",
      "classifier.weight",
    ] {
      XCTAssert(names.contains(expected), "missing \(expected)")
    }
    XCTAssertFalse(names.contains { $0.hasPrefix("cells.0._ops.5.") }, "DARTS_V2 normal op 5 is a stride-1 skip without parameters")
    XCTAssertFalse(names.contains { $0.hasPrefix("cells.6._ops.0.") }, "reduction op 0 is a max pool without BN")
  }

  func testEveryBuiltInGenotypeBuildsAndRuns() {
    var generator = SeededGenerator(seed: 1)
    let x = Tensor.randomNormal([2, 3, 32, 32], generator: &generator, on: backend)
    for (name, genotype) in Genotype.published {
      let net = network(genotype, channels: 8, layers: 6)
      let (logits, auxiliary) = withoutGradients { net(x, dropPath: 0.2, generator: &generator) }
      XCTAssertEqual(logits.shape, [2, 10], name)
      XCTAssertEqual(auxiliary?.shape, [2, 10], name)
      net.eval()
      XCTAssertNil(withoutGradients { net(x, generator: &generator) }.auxiliary, "\(name): no auxiliary head in eval")
    }
  }
}
