import TensorCore
import XCTest
import _TestSupport

/// Forward values and vector–Jacobian products against PyTorch 2.13 (fixtures written by
/// `Scripts/fixtures/generate_engine_fixtures.py`).
final class PyTorchGoldenTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  /// Output and input gradients of `function` for a case with `input`, `grad_output` etc.
  func vjp(_ inputs: [Tensor], seed: Tensor, _ function: ([Tensor]) -> Tensor) -> (Tensor, [Tensor]) {
    let leaves = inputs.map { $0.requiringGradient() }
    let out = function(leaves)
    return (out.detached(), gradients(of: out, wrt: leaves, seed: seed))
  }

  func testConvolution() throws {
    for c in try Fixture("conv2d", in: .module).root.objects("cases") {
      let name = c["name"] as! String
      let (s, p, d) = (c.ints("stride"), c.ints("padding"), c.ints("dilation"))
      let groups = (c["groups"] as! NSNumber).intValue
      let (out, grads) = vjp([c.tensor("input", on: backend), c.tensor("weight", on: backend)], seed: c.tensor("grad_output", on: backend)) {
        $0[0].conv2d(weight: $0[1], stride: (s[0], s[1]), padding: (p[0], p[1]), dilation: (d[0], d[1]), groups: groups)
      }
      assertClose(out.scalars, c.tensor("output", on: backend).scalars, rtol: 1e-4, atol: 1e-5, name)
      assertClose(grads[0].scalars, c.tensor("grad_input", on: backend).scalars, rtol: 1e-4, atol: 1e-5, name)
      assertClose(grads[1].scalars, c.tensor("grad_weight", on: backend).scalars, rtol: 1e-4, atol: 5e-5, name)
    }
  }

  func testPooling() throws {
    for c in try Fixture("pool", in: .module).root.objects("cases") {
      let name = c["name"] as! String
      let (k, s, p) = (c.ints("kernel"), c.ints("stride"), c.ints("padding"))
      let includePad = c["count_include_pad"] as! Bool
      let (out, grads) = vjp([c.tensor("input", on: backend)], seed: c.tensor("grad_output", on: backend)) {
        switch c["kind"] as! String {
        case "max": return $0[0].maxPool2d(kernel: k[0], stride: s[0], padding: p[0])
        case "avg": return $0[0].avgPool2d(kernel: k[0], stride: s[0], padding: p[0], countIncludePad: includePad)
        default: return $0[0].globalAveragePooled()
        }
      }
      assertClose(out.scalars, c.tensor("output", on: backend).scalars, rtol: 1e-5, atol: 1e-6, name)
      assertClose(grads[0].scalars, c.tensor("grad_input", on: backend).scalars, rtol: 1e-5, atol: 1e-6, name)
    }
  }

  func testCrossEntropy() throws {
    let root = try Fixture("loss", in: .module).root
    for c in root.objects("cross_entropy") {
      let name = c["name"] as! String
      let logits = c.tensor("logits", on: backend).requiringGradient()
      let loss = logits.crossEntropy(labels: c.ints("target"), labelSmoothing: Float(c.number("label_smoothing")))
      XCTAssertEqual(loss.scalar, Float(c.number("loss")), accuracy: 1e-5 * max(1, abs(Float(c.number("loss")))), name)
      assertClose(gradients(of: loss, wrt: [logits])[0].scalars, c.tensor("grad_logits", on: backend).scalars, rtol: 1e-4, atol: 1e-7, name)
    }
    for c in root.objects("log_softmax") {
      let (out, grads) = vjp([c.tensor("input", on: backend)], seed: c.tensor("grad_output", on: backend)) {
        $0[0].logSoftmax(alongAxis: (c["dim"] as! NSNumber).intValue)
      }
      assertClose(out.scalars, c.tensor("output", on: backend).scalars, rtol: 1e-5, atol: 1e-6)
      assertClose(grads[0].scalars, c.tensor("grad_input", on: backend).scalars, rtol: 1e-4, atol: 1e-6)
    }
  }

  func testSoftmax() throws {
    for c in try Fixture("softmax", in: .module).root.objects("cases") {
      let name = c["name"] as! String
      let dim = (c["dim"] as! NSNumber).intValue
      let seed = c.tensor("grad_output", on: backend)
      let (s, sg) = vjp([c.tensor("input", on: backend)], seed: seed) { $0[0].softmax(alongAxis: dim) }
      let (l, lg) = vjp([c.tensor("input", on: backend)], seed: seed) { $0[0].logSoftmax(alongAxis: dim) }
      assertClose(s.scalars, c.tensor("softmax", on: backend).scalars, rtol: 1e-5, atol: 1e-7, name)
      assertClose(l.scalars, c.tensor("log_softmax", on: backend).scalars, rtol: 1e-5, atol: 1e-6, name)
      assertClose(sg[0].scalars, c.tensor("softmax_grad_input", on: backend).scalars, rtol: 1e-4, atol: 1e-6, name)
      assertClose(lg[0].scalars, c.tensor("log_softmax_grad_input", on: backend).scalars, rtol: 1e-4, atol: 1e-6, name)
    }
  }
}
