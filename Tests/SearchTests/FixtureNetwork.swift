import NN
import Search
import TensorCore
import XCTest
import _TestSupport

/// The supernet of a reference fixture (Scripts/reference): built from the fixture's `config`
/// (`C`, `layers`, `classes`, `input_channels`, and `K` / `edge_norm` when present), loaded with
/// its `state` and the architecture tensors `architectureNames` of `architecture`, in train mode.
func fixtureNetwork(
  _ fixture: [String: Any], architecture: [String: Any], architectureNames: [String], on backend: any Backend
) throws -> SearchNetwork {
  let config = fixture.object("config")
  var factory = ParameterFactory(backend: backend, seed: 0)
  let network = SearchNetwork(
    SearchNetworkConfiguration(
      channels: config["C"] as! Int, layers: config["layers"] as! Int, classes: config["classes"] as! Int,
      inputChannels: config["input_channels"] as! Int, partialChannels: config["K"] as? Int ?? 1,
      edgeNormalization: config["edge_norm"] as? Bool ?? false),
    using: &factory)
  var values: [String: Tensor] = [:]
  let state = fixture.object("state")
  for name in state.keys { values[name] = state.tensor(name, on: backend) }
  for name in architectureNames { values[name] = architecture.tensor(name, on: backend) }
  try network.update(parameters: values)
  XCTAssertEqual(Set(values.keys), Set(network.namedParameters().map(\.name)), "the fixture names every parameter and buffer")
  network.train()
  return network
}
