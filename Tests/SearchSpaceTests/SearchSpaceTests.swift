import Foundation
import NN
import SearchSpace
import TensorCore
import XCTest
import _TestSupport

final class OperationTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func testEveryPrimitiveKeepsOrHalvesTheResolution() {
    var factory = ParameterFactory(backend: backend, seed: 1)
    var generator = SeededGenerator(seed: 2)
    let x = Tensor.randomNormal([2, 8, 8, 8], generator: &generator, on: backend)
    for primitive in Primitive.allCases {
      for stride in [1, 2] {
        let op = makeOperation(primitive, channels: 8, stride: stride, affine: false, poolNorm: true, using: &factory)
        XCTAssertEqual(withoutGradients { op(x) }.shape, [2, 8, 8 / stride, 8 / stride], "\(primitive) stride \(stride)")
      }
    }
  }

  func testFusedReLUSeparableConvolutionsEqualTheirLayerSequence() {
    var factory = ParameterFactory(backend: backend, seed: 1)
    var generator = SeededGenerator(seed: 3)
    let x = Tensor.randomNormal([2, 4, 9, 9], generator: &generator, on: backend)
    let sep = SepConv(4, 4, kernel: 3, stride: 2, padding: 1, affine: true, using: &factory)
    let dil = DilConv(4, 4, kernel: 5, stride: 1, padding: 4, dilation: 2, affine: false, using: &factory)
    let preprocess = ReLUConvBN(4, 6, kernel: 1, stride: 1, padding: 0, affine: true, using: &factory)
    let reduce = FactorizedReduce(4, 6, affine: true, using: &factory)
    for module in [sep, dil, preprocess, reduce] as [Module] { module.eval() }
    withoutGradients {
      assertClose(sep(x).scalars, sep.op(x).scalars, rtol: 1e-5, atol: 1e-6)
      assertClose(dil(x).scalars, dil.op(x).scalars, rtol: 1e-5, atol: 1e-6)
      assertClose(preprocess(x).scalars, preprocess.op(x).scalars, rtol: 1e-5, atol: 1e-6)
      // FactorizedReduce needs an even size (its two branches must agree; release builds drop
      // the concatenation's shape precondition, so an odd size would read past a buffer).
      let even = Tensor.randomNormal([2, 4, 10, 10], generator: &generator, on: backend)
      let r = even.relu()
      let expected = reduce.norm(Tensor.concatenated(
        [reduce.firstConvolution(r), reduce.secondConvolution(r.sliced(lower: [0, 0, 1, 1], upper: r.shape))], alongAxis: 1))
      assertClose(reduce(even).scalars, expected.scalars, rtol: 1e-5, atol: 1e-6)
    }
  }

  func testBlockParameterNames() {
    var factory = ParameterFactory(backend: backend, seed: 1)
    let sep = SepConv(4, 4, kernel: 3, stride: 1, padding: 1, affine: true, using: &factory)
    XCTAssertEqual(sep.namedParameters(.weight).map(\.name), ["op.1.weight", "op.2.weight", "op.3.weight", "op.3.bias", "op.5.weight", "op.6.weight", "op.7.weight", "op.7.bias"])
    let reduce = FactorizedReduce(6, 4, affine: false, using: &factory)
    XCTAssertEqual(reduce.namedParameters().map(\.name), ["conv_1.weight", "conv_2.weight", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"])
  }
}

final class GenotypeTests: XCTestCase {
  func testPublishedGenotypesAreValidAndRoundTripThroughJSON() throws {
    for (name, genotype) in Genotype.published {
      XCTAssertNil(genotype.validationProblem(), name)
      let decoded = try JSONDecoder().decode(Genotype.self, from: genotype.jsonData())
      XCTAssertEqual(decoded, genotype, name)
    }
    XCTAssertEqual(Genotype.published["DARTS"], Genotype.dartsV2)
    XCTAssertEqual(Genotype.dartsV2.normal[7], Genotype.Edge(.dilConv3x3, 2))
  }

  func testJSONFormatIsTheReferenceTupleForm() throws {
    let json = String(decoding: try Genotype.dartsV1.jsonData(), as: UTF8.self)
    XCTAssert(json.contains("\"normal_concat\""))
    XCTAssert(json.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "\n", with: "").contains("[\"sep_conv_3x3\",1],[\"sep_conv_3x3\",0]"))
    XCTAssert(Genotype.dartsV1.description.hasPrefix("Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0),"))
  }

  func testInvalidGenotypeFilesGiveOneLineErrorsNamingTheFile() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("genotype-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let cases: [(String, String)] = [
      ("notjson", "is not a valid genotype"),
      ("{\"normal\": [[\"sep_conv_9x9\", 0]], \"normal_concat\": [2], \"reduce\": [], \"reduce_concat\": [2]}", "unknown operation 'sep_conv_9x9'"),
      ("{\"normal\": [[\"sep_conv_3x3\", 0], [\"sep_conv_3x3\", 4]], \"normal_concat\": [2], \"reduce\": [[\"sep_conv_3x3\", 0], [\"sep_conv_3x3\", 1]], \"reduce_concat\": [2]}", "reads node 4"),
      ("{\"normal\": [[\"sep_conv_3x3\", 0]], \"normal_concat\": [2], \"reduce\": [[\"sep_conv_3x3\", 0], [\"sep_conv_3x3\", 1]], \"reduce_concat\": [2]}", "two edges per node"),
      ("{\"normal\": [[\"sep_conv_3x3\", 0], [\"sep_conv_3x3\", 1]], \"reduce\": [[\"sep_conv_3x3\", 0], [\"sep_conv_3x3\", 1]], \"reduce_concat\": [2]}", "missing key 'normal_concat'"),
      ("{\"normal\": [[\"sep_conv_3x3\", 0, 1], [\"sep_conv_3x3\", 1]], \"normal_concat\": [2], \"reduce\": [[\"sep_conv_3x3\", 0], [\"sep_conv_3x3\", 1]], \"reduce_concat\": [2]}", "normal.0: an edge is [operation, input], found 3 elements"),
      ("{\"normal\": [[\"sep_conv_3x3\", 0.5], [\"sep_conv_3x3\", 1]], \"normal_concat\": [2], \"reduce\": [[\"sep_conv_3x3\", 0], [\"sep_conv_3x3\", 1]], \"reduce_concat\": [2]}", "normal.0.1: 0.5 is not an integer"),
    ]
    for (i, (content, expected)) in cases.enumerated() {
      let url = dir.appendingPathComponent("g\(i).json")
      try content.write(to: url, atomically: true, encoding: .utf8)
      XCTAssertThrowsError(try Genotype.load(from: url)) { error in
        let message = "\(error)"
        XCTAssert(message.hasPrefix(url.path), message)
        XCTAssert(message.contains(expected), message)
        XCTAssertFalse(message.contains("\n"), message)
      }
    }
    XCTAssertThrowsError(try Genotype.load(from: dir.appendingPathComponent("missing.json"))) { error in
      XCTAssert("\(error)".hasSuffix("missing.json: no such file"), "\(error)")
    }
  }

  func testCellTopology() {
    let t = CellTopology()
    XCTAssertEqual(t.edgeCount, 14)
    XCTAssertEqual((0..<4).map { t.edges(ofStep: $0) }, [0..<2, 2..<5, 5..<9, 9..<14])
    XCTAssertEqual((0..<14).map { t.source(ofEdge: $0) }, [0, 1, 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 4])
  }
}
