import NN
import TensorCore
import XCTest
import _TestSupport

/// Parameter discovery, naming, groups, state dicts, BatchNorm against PyTorch.
final class ModuleTests: XCTestCase {
  let backend = CPUBackend(threads: 1)

  final class Block: Module, Layer {
    let op: Sequential
    let norms: [BatchNorm2d]
    let classifier: Linear
    let alphas: Parameter
    init(using factory: inout ParameterFactory) {
      op = Sequential([ReLU(), Conv2d(3, 4, kernel: 3, padding: 1, using: &factory), BatchNorm2d(4, affine: false, using: &factory)])
      norms = [BatchNorm2d(4, using: &factory)]
      classifier = Linear(4, 2, using: &factory)
      alphas = factory.normal([14, 8], scale: 1e-3, kind: .architecture)
    }
    override func referenceName(forProperty label: String) -> String? {
      label == "norms" ? "_bns" : label
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
      classifier(norms[0](op(x)).globalAveragePooled().reshaped(to: [x.shape[0], 4]))
    }
  }

  func testNamesFollowPyTorchAndGroupsAreSeparate() {
    var factory = ParameterFactory(backend: backend, seed: 1)
    let block = Block(using: &factory)
    XCTAssertEqual(block.namedParameters(.weight).map(\.name), ["op.1.weight", "_bns.0.weight", "_bns.0.bias", "classifier.weight", "classifier.bias"])
    XCTAssertEqual(block.namedParameters(.buffer).map(\.name), [
      "op.2.running_mean", "op.2.running_var", "op.2.num_batches_tracked",
      "_bns.0.running_mean", "_bns.0.running_var", "_bns.0.num_batches_tracked",
    ])
    XCTAssertEqual(block.namedParameters(.architecture).map(\.name), ["alphas"])
    XCTAssertEqual(block.parameterCount(.weight), 4 * 3 * 9 + 4 + 4 + 8 + 2)
  }

  func testUpdateIsTheOneDoorAndRejectsBadInput() throws {
    var factory = ParameterFactory(backend: backend, seed: 1)
    let block = Block(using: &factory)
    try block.update(parameters: ["classifier.bias": Tensor(shape: [2], scalars: [5, 6], on: backend)])
    XCTAssertEqual(block.stateDict()["classifier.bias"]?.scalars, [5, 6])
    XCTAssertThrowsError(try block.update(parameters: ["nope": Tensor.zeros([1], on: backend)]))
    XCTAssertThrowsError(try block.update(parameters: ["classifier.bias": Tensor.zeros([3], on: backend)]))
  }

  func testTrainingModePropagatesAndInitialisationIsSeeded() {
    var f1 = ParameterFactory(backend: backend, seed: 42)
    var f2 = ParameterFactory(backend: backend, seed: 42)
    let (a, b) = (Block(using: &f1), Block(using: &f2))
    XCTAssertEqual(a.stateDict()["op.1.weight"]?.scalars, b.stateDict()["op.1.weight"]?.scalars)
    a.eval()
    XCTAssertTrue(a.modules().allSatisfy { !$0.isTraining })
    a.train()
    XCTAssertTrue(a.modules().allSatisfy { $0.isTraining })
    // PyTorch default conv init: U(±1/√fan_in), fan_in = 3·3·3.
    let w = a.stateDict()["op.1.weight"]!.scalars
    XCTAssertLessThanOrEqual(w.map(abs).max()!, 1 / Float(27).squareRoot())
    XCTAssertGreaterThan(w.map(abs).max()!, 0.8 / Float(27).squareRoot())
  }

  func testBatchNormRunningStatisticsMatchPyTorch() throws {
    for c in try Fixture("batchnorm", in: .module).root.objects("cases") {
      var factory = ParameterFactory(backend: backend, seed: 0)
      let affine = c["affine"] as! Bool
      let bn = BatchNorm2d((c["channels"] as! NSNumber).intValue, affine: affine, using: &factory)
      if affine {
        try bn.update(parameters: ["weight": c.tensor("weight", on: backend), "bias": c.tensor("bias", on: backend)])
      }
      for step in c.objects("train_steps") {
        let out = bn(step.tensor("input", on: backend))
        assertClose(out.scalars, step.tensor("output", on: backend).scalars, rtol: 1e-5, atol: 2e-5)
        assertClose(bn.runningMean.value.scalars, step.tensor("running_mean", on: backend).scalars, rtol: 1e-5, atol: 1e-6)
        assertClose(bn.runningVariance.value.scalars, step.tensor("running_var", on: backend).scalars, rtol: 1e-5, atol: 1e-6)
        XCTAssertEqual(bn.batchesTracked.value.scalar, Float((step["num_batches_tracked"] as! NSNumber).intValue))
      }
      bn.eval()
      let e = c.object("eval")
      let x = e.tensor("input", on: backend).requiringGradient()
      let out = bn(x)
      assertClose(out.scalars, e.tensor("output", on: backend).scalars, rtol: 1e-5, atol: 2e-5)
      let g = gradients(of: out, wrt: [x], seed: e.tensor("grad_output", on: backend))
      assertClose(g[0].scalars, e.tensor("grad_input", on: backend).scalars, rtol: 1e-5, atol: 1e-6)
    }
  }

  /// The batch-norm primitive itself (output and all three gradients) on the last step.
  func testBatchNormPrimitiveMatchesPyTorch() throws {
    for c in try Fixture("batchnorm", in: .module).root.objects("cases") {
      let affine = c["affine"] as! Bool
      let last = c.objects("train_steps").last!
      let gamma = affine ? c.tensor("weight", on: backend).requiringGradient() : nil
      let beta = affine ? c.tensor("bias", on: backend).requiringGradient() : nil
      let x = last.tensor("input", on: backend).requiringGradient()
      let out = x.batchNormalized(gamma: gamma, beta: beta).output
      assertClose(out.scalars, last.tensor("output", on: backend).scalars, rtol: 1e-5, atol: 2e-5)
      let wrt = [x] + (affine ? [gamma!, beta!] : [])
      let grads = gradients(of: out, wrt: wrt, seed: last.tensor("grad_output", on: backend))
      assertClose(grads[0].scalars, last.tensor("grad_input", on: backend).scalars, rtol: 1e-4, atol: 1e-5)
      if affine {
        assertClose(grads[1].scalars, last.tensor("grad_weight", on: backend).scalars, rtol: 1e-4, atol: 1e-5)
        assertClose(grads[2].scalars, last.tensor("grad_bias", on: backend).scalars, rtol: 1e-4, atol: 1e-5)
      }
    }
  }

}
