import NN
import SearchSpace
import TensorCore

/// A layer that writes its evaluation-mode computation as ONNX nodes.
protocol ONNXConvertible: Module {
  /// Appends the nodes computing this layer on the value `input`; returns the output value.
  func emit(_ input: String, into graph: inout GraphBuilder) throws(ONNXExportError) -> String
}

extension GraphBuilder {
  /// Appends the nodes of `layer` (any layer of an evaluation network) on `input`.
  /// - Throws: ``ONNXExportError`` for a layer with no ONNX form (the `noise` operation).
  mutating func emit(_ layer: any Layer, _ input: String) throws(ONNXExportError) -> String {
    guard let convertible = layer as? any ONNXConvertible else {
      throw ONNXExportError("\(path(of: layer)): a \(type(of: layer)) layer has no ONNX form")
    }
    return try convertible.emit(input, into: &self)
  }
}

extension Sequential: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) throws(ONNXExportError) -> String {
    var value = input
    for layer in layers { value = try graph.emit(layer, value) }
    return value
  }
}

extension Conv2d: ONNXConvertible {
  /// `Conv` with `pads` = [top, left, bottom, right] and no bias.
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    let weight = graph.initializer(graph.path(of: self, "weight"), self.weight.value)
    let kernel = Array(self.weight.value.shape[2...])
    return graph.node("Conv", name: graph.path(of: self), inputs: [input, weight], attributes: [
      .init("kernel_shape", .ints(kernel)),
      .init("strides", .ints([stride.0, stride.1])),
      .init("pads", .ints([padding.0, padding.1, padding.0, padding.1])),
      .init("dilations", .ints([dilation.0, dilation.1])),
      .init("group", .int(groups)),
    ])
  }
}

extension BatchNorm2d: ONNXConvertible {
  /// `BatchNormalization` with the running statistics (evaluation mode); a BN without γ/β
  /// gets constant ones and zeros.
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    let channels = runningMean.value.shape[0]
    let scale = weight.map { graph.initializer(graph.path(of: self, "weight"), $0.value) }
      ?? graph.initializer(graph.path(of: self, "unit_scale"), dimensions: [channels], elements: .float(Array(repeating: 1, count: channels)))
    let shift = bias.map { graph.initializer(graph.path(of: self, "bias"), $0.value) }
      ?? graph.initializer(graph.path(of: self, "zero_shift"), dimensions: [channels], elements: .float(Array(repeating: 0, count: channels)))
    let mean = graph.initializer(graph.path(of: self, "running_mean"), runningMean.value)
    let variance = graph.initializer(graph.path(of: self, "running_var"), runningVariance.value)
    return graph.node(
      "BatchNormalization", name: graph.path(of: self), inputs: [input, scale, shift, mean, variance],
      attributes: [.init("epsilon", .float(epsilon))])
  }
}

extension ReLU: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    graph.node("Relu", name: graph.path(of: self), inputs: [input])
  }
}

extension Identity: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) -> String { input }
}

/// The attributes of a square pooling window.
private func windowAttributes(kernel: Int, stride: Int, padding: Int) -> [ONNXModel.Attribute] {
  [
    .init("kernel_shape", .ints([kernel, kernel])),
    .init("strides", .ints([stride, stride])),
    .init("pads", .ints([padding, padding, padding, padding])),
  ]
}

extension MaxPool2d: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    graph.node("MaxPool", name: graph.path(of: self), inputs: [input], attributes: windowAttributes(kernel: kernel, stride: stride, padding: padding))
  }
}

extension AvgPool2d: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    let attributes = windowAttributes(kernel: kernel, stride: stride, padding: padding)
    return graph.node("AveragePool", name: graph.path(of: self), inputs: [input], attributes: attributes + [.init("count_include_pad", .int(countIncludePad ? 1 : 0))])
  }
}

extension GlobalAvgPool2d: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    graph.node("GlobalAveragePool", name: graph.path(of: self), inputs: [input])
  }
}

extension Linear: ONNXConvertible {
  /// `Gemm(x, W, b)` with `transB` = 1 on a `[N, in]` input.
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    let weight = graph.initializer(graph.path(of: self, "weight"), self.weight.value)
    let bias = graph.initializer(graph.path(of: self, "bias"), self.bias.value)
    return graph.node("Gemm", name: graph.path(of: self), inputs: [input, weight, bias], attributes: [.init("transB", .int(1))])
  }
}

extension ReLUConvBN: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) throws(ONNXExportError) -> String {
    try op.emit(input, into: &graph)
  }
}

extension SepConv: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) throws(ONNXExportError) -> String {
    try op.emit(input, into: &graph)
  }
}

extension DilConv: ONNXConvertible {
  func emit(_ input: String, into graph: inout GraphBuilder) throws(ONNXExportError) -> String {
    try op.emit(input, into: &graph)
  }
}

extension FactorizedReduce: ONNXConvertible {
  /// ReLU, then `conv_1` on it and `conv_2` on it shifted by one pixel (`Slice` from 1 on H
  /// and W), concatenated on channels, then `bn`.
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    let rectified = graph.node("Relu", name: graph.path(of: self, "relu"), inputs: [input])
    let shifted = graph.node("Slice", name: graph.path(of: self, "shift"), inputs: [
      rectified, graph.integers(graph.path(of: self, "shift.starts"), [1, 1]),
      graph.integers(graph.path(of: self, "shift.ends"), [Int(Int64.max), Int(Int64.max)]),
      graph.integers(graph.path(of: self, "shift.axes"), [2, 3]),
    ])
    let halves = [firstConvolution.emit(rectified, into: &graph), secondConvolution.emit(shifted, into: &graph)]
    let joined = graph.node("Concat", name: graph.path(of: self, "concat"), inputs: halves, attributes: [.init("axis", .int(1))])
    return norm.emit(joined, into: &graph)
  }
}

extension Zero: ONNXConvertible {
  /// Exact zeros of the output shape: `ConstantOfShape(Shape(x[:, :, ::s, ::s]))`.
  func emit(_ input: String, into graph: inout GraphBuilder) -> String {
    var strided = input
    if stride > 1 {
      strided = graph.node("Slice", name: graph.path(of: self, "stride"), inputs: [
        input, graph.integers(graph.path(of: self, "stride.starts"), [0, 0]),
        graph.integers(graph.path(of: self, "stride.ends"), [Int(Int64.max), Int(Int64.max)]),
        graph.integers(graph.path(of: self, "stride.axes"), [2, 3]),
        graph.integers(graph.path(of: self, "stride.steps"), [stride, stride]),
      ])
    }
    let shape = graph.node("Shape", name: graph.path(of: self, "shape"), inputs: [strided])
    return graph.node("ConstantOfShape", name: graph.path(of: self), inputs: [shape], attributes: [
      .init("value", .tensor(.init(name: "zero", dimensions: [1], elements: .float([0])))),
    ])
  }
}
