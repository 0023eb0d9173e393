import ONNXExport
import XCTest

final class ONNXModelEncodingTests: XCTestCase {
  /// The model of `Scripts/fixtures/onnx_encoding_fixture.py`, serialised there by onnx 1.23.2's
  /// `helper.make_model`: the same bytes, field for field.
  func testTinyModelMatchesTheBytesOfONNXsOwnSerialiser() {
    var model = ONNXModel(graphName: "tiny", producerVersion: "0.1.0")
    model.documentation = "doc"
    let zero = ONNXModel.TensorData(name: "zero", dimensions: [1], elements: .float([0]))
    model.nodes = [
      .init(name: "c", operatorType: "Conv", inputs: ["x", "w"], outputs: ["c"], attributes: [
        .init("dilations", .ints([1, 1])), .init("group", .int(1)), .init("kernel_shape", .ints([1, 1])),
        .init("pads", .ints([0, 0, 0, 0])), .init("strides", .ints([1, 1])),
      ]),
      .init(name: "b", operatorType: "BatchNormalization", inputs: ["c", "w", "w", "w", "w"], outputs: ["b"], attributes: [.init("epsilon", .float(1e-5))]),
      .init(name: "z", operatorType: "ConstantOfShape", inputs: ["starts"], outputs: ["z"], attributes: [.init("value", .tensor(zero))]),
      .init(name: "y", operatorType: "Identity", inputs: ["b"], outputs: ["y"]),
    ]
    model.initializers = [
      .init(name: "w", dimensions: [1, 2, 1, 1], elements: .float([0.5, -2])),
      .init(name: "starts", dimensions: [2], elements: .int64([1, 1])),
    ]
    model.inputs = [.init(name: "x", dimensions: [.symbol("batch"), .size(2), .size(3), .size(3)])]
    model.outputs = [.init(name: "y", dimensions: [.symbol("batch"), .size(1)])]
    let expected = "0808120564617274731a05302e312e303af6020a700a01780a01771201631a01632204436f6e762a120a0964696c6174696f6e7340014001a001072a0c0a0567726f75701801a001022a150a0c6b65726e656c5f736861706540014001a001072a110a04706164734000400040004000a001072a100a077374726964657340014001a001070a3c0a01630a01770a01770a01770a01771201621a0162221242617463684e6f726d616c697a6174696f6e2a110a07657073696c6f6e15acc52737a001010a3d0a0673746172747312017a1a017a220f436f6e7374616e744f6653686170652a1c0a0576616c75652a100801100142047a65726f4a0400000000a001040a130a01621201791a017922084964656e74697479120474696e792a17080108020801080110014201774a080000003f000000c02a10080210073a02010142067374617274735203646f635a200a0178121b0a19080112150a07120562617463680a0208020a0208030a02080362180a017912130a110801120d0a07120562617463680a02080142040a001011"
    XCTAssertEqual(model.encoded().map { String(format: "%02x", $0) }.joined(), expected)
  }
}
