import Evaluation
import NN
import SearchSpace
import TensorCore

/// Why a network cannot be exported; one line.
public struct ONNXExportError: Error, CustomStringConvertible, Equatable {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// ONNX export of trained evaluation networks (SPEC §1.4, §6.1–6.2): the CIFAR and ImageNet
/// structures, any genotype (DARTS, NASNet and AmoebaNet operations), any input channels and
/// size.
///
/// The graph is the network in evaluation mode: BNs as `BatchNormalization` nodes with the
/// running statistics, no drop path, no auxiliary head. Input `input` `[batch, C, H, W]`
/// float32 with a symbolic batch dimension, output `logits` `[batch, classes]`. Nodes carry
/// the module paths of the reference network (`cells.4._ops.2.op.5`), initializers its
/// `state_dict` names (`cells.4._ops.2.op.5.weight`, `….running_var`).
public enum ONNXExport {
  /// The model of `network` for `inputChannels`×`inputSize`×`inputSize` images.
  ///
  /// - Parameters:
  ///   - documentation: free text stored as the graph's `doc_string` (shown by viewers).
  /// - Throws: ``ONNXExportError`` when a layer has no ONNX form (the `noise` operation of
  ///   RobustDARTS' S4 space draws fresh random values).
  public static func model(
    of network: EvaluationNetwork, inputChannels: Int, inputSize: Int, classes: Int,
    producerVersion: String, documentation: String = ""
  ) throws(ONNXExportError) -> ONNXModel {
    if network.modules().contains(where: { $0 is GaussianNoise }) {
      throw ONNXExportError("the genotype uses the noise operation (RobustDARTS S4), which draws fresh random values on every call and has no ONNX form")
    }
    var model = ONNXModel(graphName: "darts_\(network.stemKind.rawValue)_network", producerVersion: producerVersion)
    model.documentation = documentation
    var graph = GraphBuilder(root: network, model: model)
    let images = graph.input("input", dimensions: [.symbol("batch"), .size(inputChannels), .size(inputSize), .size(inputSize)])
    var s0 = try graph.emit(network.stem, images)
    var s1 = try network.stem1.map { stem1 throws(ONNXExportError) in try graph.emit(stem1, s0) } ?? s0
    for cell in network.cells {
      (s0, s1) = (s1, try cell.emit(s0, s1, into: &graph))
    }
    let pooled = graph.node("GlobalAveragePool", name: "global_pooling", inputs: [s1])
    let features = graph.node("Flatten", name: "flatten", inputs: [pooled], attributes: [.init("axis", .int(1))])
    let logits = try graph.emit(network.classifier, features)
    graph.output(logits, as: "logits", dimensions: [.symbol("batch"), .size(classes)])
    return graph.model
  }
}

extension EvaluationCell {
  /// The preprocessing of both inputs, each node as the `Add` of its two operations
  /// (`cells.i.node_k`), and the `Concat` of the concat nodes on channels.
  fileprivate func emit(_ s0: String, _ s1: String, into graph: inout GraphBuilder) throws(ONNXExportError) -> String {
    var states = [try graph.emit(preprocess0, s0), try graph.emit(preprocess1, s1)]
    for node in 0..<(operations.count / 2) {
      let terms = [
        try graph.emit(operations[2 * node], states[inputs[2 * node]]),
        try graph.emit(operations[2 * node + 1], states[inputs[2 * node + 1]]),
      ]
      states.append(graph.node("Add", name: graph.path(of: self, "node_\(node + 2)"), inputs: terms))
    }
    return graph.node("Concat", name: graph.path(of: self, "concat"), inputs: concat.map { states[$0] }, attributes: [.init("axis", .int(1))])
  }
}
