import NN
import Search
import TensorCore

/// A search cell of C = 8 on two 12-channel inputs (initialised with seed 5) and its inputs
/// `s0`, `s1` (`[2, 12, 8, 8]`, standard normal, drawn from `generator`).
func searchCellFixture(
  _ configuration: SearchNetworkConfiguration, isReduction: Bool, generator: inout SeededGenerator, on backend: any Backend
) -> (cell: SearchCell, s0: Tensor, s1: Tensor) {
  var factory = ParameterFactory(backend: backend, seed: 5)
  let cell = SearchCell(
    previousPrevious: 12, previous: 12, channels: 8, isReduction: isReduction, reductionPrevious: false,
    configuration: configuration, using: &factory)
  let s0 = Tensor.randomNormal([2, 12, 8, 8], generator: &generator, on: backend)
  let s1 = Tensor.randomNormal([2, 12, 8, 8], generator: &generator, on: backend)
  return (cell, s0, s1)
}
