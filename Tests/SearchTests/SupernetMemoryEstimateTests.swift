import NN
import Search
import SearchSpace
import TensorCore
import XCTest

/// The supernet's memory estimate (which refuses sizes that cannot fit before anything is
/// allocated) is a lower bound of its real weights, DARTS and PC-DARTS alike.
final class SupernetMemoryEstimateTests: XCTestCase {
  func testTheEstimateIsALowerBoundOfTheRealWeights() {
    for configuration in [
      SearchNetworkConfiguration(channels: 16, layers: 8),
      SearchNetworkConfiguration(channels: 16, layers: 8, partialChannels: 4, edgeNormalization: true),
      SearchNetworkConfiguration(channels: 8, layers: 5, operations: [.none, .skipConnect, .sepConv3x3]),
    ] {
      var factory = ParameterFactory(backend: CPUBackend(threads: 1), seed: 0)
      let network = SearchNetwork(configuration, using: &factory)
      let real = Double(network.namedParameters(.weight).reduce(0) { $0 + $1.parameter.value.count })
      let estimate = configuration.memoryEstimate(inputSize: 32, batch: 0).weights
      XCTAssertLessThanOrEqual(estimate, real, "\(configuration.partialChannels) \(configuration.normalOperations[0])")
      XCTAssertGreaterThan(estimate, 0.3 * real, "\(configuration.partialChannels) \(configuration.normalOperations[0])")
    }
  }

  func testFeatureMapsGrowWithTheBatch() {
    let configuration = SearchNetworkConfiguration(channels: 16, layers: 8)
    let one = configuration.memoryEstimate(inputSize: 32, batch: 1)
    let many = configuration.memoryEstimate(inputSize: 32, batch: 64)
    XCTAssertEqual(many.activations, 64 * one.activations, accuracy: 1)
    // The DARTS search step at batch 64 peaks at about 3.7 GiB of tensors; the bound stays below.
    XCTAssertLessThan(many.bytes, 3.7 * 1_073_741_824)
    XCTAssertGreaterThan(many.bytes, 0.1 * 3.7 * 1_073_741_824)
  }
}
