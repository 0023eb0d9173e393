import NN
import Search
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

/// A search cell's fused nodes against the mixture written out op by op (SPEC §1.3, §1.5,
/// §5.1–5.2): per-edge operation subsets as P-DARTS leaves them (`none` present on some edges
/// only), partial channels with the bypass joined and shuffled, β-weighted edges, in normal
/// and reduction cells.
final class SearchCellTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func testFusedNodesEqualTheExplicitMixtures() {
    let space = Primitive.searchSpace
    // Edge e keeps primitives e, e+3 and e+5 (mod 8), in primitive order.
    let subsets = (0..<14).map { e in [e % 8, (e + 3) % 8, (e + 5) % 8].sorted().map { space[$0] } }
    for (k, isReduction, edgeNormalization) in [(1, false, false), (2, false, true), (2, true, true), (4, true, false)] {
      var configuration = SearchNetworkConfiguration(channels: 8, partialChannels: k, edgeNormalization: edgeNormalization)
      configuration.normalOperations = subsets
      configuration.reduceOperations = subsets
      var generator = SeededGenerator(seed: 9)
      let (cell, s0, s1) = searchCellFixture(configuration, isReduction: isReduction, generator: &generator, on: backend)
      let weights = Tensor.randomUniform([14, 3], low: 0, high: 1, generator: &generator, on: backend)
      let beta = edgeNormalization ? Tensor.randomUniform([14], low: 0, high: 1, generator: &generator, on: backend) : nil
      let fused = cell(s0, s1, weights: weights, edgeWeights: beta)

      var states = [cell.preprocess0(s0), cell.preprocess1(s1)]
      let w = weights.scalars
      for step in 0..<4 {
        let range = cell.topology.edges(ofStep: step)
        var node: Tensor?
        for edge in range {
          let x = states[edge - range.lowerBound]
          let mixedOp = cell.edges[edge]
          let c = x.shape[1]
          let active = x.slicedChannels(0..<(c / k))
          var mixture: Tensor?
          for (i, primitive) in mixedOp.primitives.enumerated() where primitive != .none {
            let term = mixedOp.operations[i](active) * w[edge * 3 + i]
            mixture = mixture.map { $0 + term } ?? term
          }
          var output = mixture!
          if k > 1 {
            var rest = x.slicedChannels((c / k)..<c)
            if mixedOp.stride == 2 { rest = rest.maxPool2d(kernel: 2, stride: 2) }
            output = Tensor.concatenated([output, rest], alongAxis: 1).channelShuffled(groups: k)
          }
          if let beta { output = output * beta.scalars[edge] }
          node = node.map { $0 + output } ?? output
        }
        states.append(node!)
      }
      let expected = Tensor.concatenated(Array(states[2...]), alongAxis: 1)
      XCTAssertEqual(fused.shape, expected.shape)
      assertClose(fused.scalars, expected.scalars, rtol: 1e-5, atol: 1e-5, "K = \(k), reduction \(isReduction), β \(edgeNormalization)")
    }
  }
}
