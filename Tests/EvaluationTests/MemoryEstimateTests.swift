import Evaluation
import NN
import SearchSpace
import TensorCore
import XCTest

/// The memory estimate that bounds sizes from flags and files is a lower bound of the real
/// network, close enough to refuse what cannot run.
final class MemoryEstimateTests: XCTestCase {
  func testTheEstimateIsALowerBoundOfTheRealWeights() {
    var factory = ParameterFactory(backend: CPUBackend(threads: 1), seed: 0)
    for (genotype, channels, layers) in [(Genotype.dartsV2, 36, 20), (.dartsV1, 16, 8), (.dartsV2, 8, 5)] {
      let description = NetworkDescription(genotype: genotype, channels: channels, layers: layers, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: false)
      let real = Double(description.build(using: &factory).namedParameters(.weight).reduce(0) { $0 + $1.parameter.value.count })
      let estimate = description.memoryEstimate(batch: 0, training: false).weights
      XCTAssertLessThanOrEqual(estimate, real, "C=\(channels) L=\(layers)")
      XCTAssertGreaterThan(estimate, 0.5 * real, "C=\(channels) L=\(layers): the C² terms dominate")
    }
  }

  func testSizesBeyondTheMachineAreRefusedAndReferenceSettingsAreNot() throws {
    let reference = NetworkDescription(genotype: .dartsV2, channels: 36, layers: 20, classes: 10, inputChannels: 3, inputSize: 32, auxiliary: true)
    XCTAssertNil(reference.memoryEstimate(batch: 96, training: true).problem("training", available: 8 * 1_073_741_824))
    var huge = reference
    huge.channels = 4000
    let problem = try XCTUnwrap(huge.problem(batch: 0, training: false))
    XCTAssert(problem.contains("needs at least"), problem)
    huge.channels = 1_000_000
    XCTAssertEqual(huge.problem, "the initial channels C (--init-channels) is 1000000, outside 1...4096")
    huge.channels = 36
    huge.layers = -5
    XCTAssertEqual(huge.problem, "the number of cells (--layers) is -5, outside 1...1000")
  }
}
