import NN
import TensorCore
import XCTest
import _TestSupport

/// SGD, Adam, clipping and the cosine schedule against PyTorch trajectories.
final class OptimizerTests: XCTestCase {
  let backend = CPUBackend(threads: 1)

  func parameters(_ tensors: [Tensor]) -> [(name: String, parameter: Parameter)] {
    tensors.enumerated().map { ("p\($0.offset)", Parameter($0.element, kind: .weight)) }
  }

  func testSGDMatchesPyTorch() throws {
    for c in try Fixture("optimizers", in: .module).root.objects("sgd") {
      let name = c["name"] as! String
      let initial = (c["initial_params"] as! [[String: Any]]).map { Tensor(shape: $0.shape, scalars: $0.floats("data"), on: backend) }
      let params = parameters(initial)
      var sgd = SGD(learningRate: Float(c.number("lr")), momentum: Float(c.number("momentum")), weightDecay: Float(c.number("weight_decay")))
      for (k, step) in c.objects("steps").enumerated() {
        sgd.learningRate = Float(step.number("lr"))
        let grads = (step["grads"] as! [[String: Any]]).map { Tensor(shape: $0.shape, scalars: $0.floats("data"), on: backend) }
        sgd.step(params, gradients: grads)
        for (i, expected) in (step["params"] as! [[String: Any]]).enumerated() {
          assertClose(params[i].parameter.value.scalars, expected.floats("data"), rtol: 1e-5, atol: 1e-7, "\(name) step \(k) param \(i)")
        }
        for (i, expected) in (step["momentum_buffer"] as! [[String: Any]]).enumerated() {
          assertClose(sgd.momentumBuffers["p\(i)"]!.scalars, expected.floats("data"), rtol: 1e-5, atol: 1e-7, "\(name) buffer")
        }
      }
    }
  }

  func testAdamMatchesPyTorch() throws {
    for c in try Fixture("optimizers", in: .module).root.objects("adam") {
      let name = c["name"] as! String
      let initial = (c["initial_params"] as! [[String: Any]]).map { Tensor(shape: $0.shape, scalars: $0.floats("data"), on: backend) }
      let params = parameters(initial)
      let betas64 = (c["betas"] as! [NSNumber]).map(\.doubleValue)
      var adam = Adam(learningRate: c.number("lr"), beta1: betas64[0], beta2: betas64[1], epsilon: c.number("eps"), weightDecay: c.number("weight_decay"))
      for (k, step) in c.objects("steps").enumerated() {
        let grads = (step["grads"] as! [[String: Any]]).map { Tensor(shape: $0.shape, scalars: $0.floats("data"), on: backend) }
        adam.step(params, gradients: grads)
        let expected = (step["params"] as! [[String: Any]])[0].floats("data")
        assertClose(params[0].parameter.value.scalars, expected, rtol: 1e-5, atol: 1e-7, "\(name) step \(k)")
        assertClose(adam.firstMoments["p0"]!.scalars, step.object("exp_avg").floats("data"), rtol: 1e-5, atol: 1e-9, "\(name) m")
        assertClose(adam.secondMoments["p0"]!.scalars, step.object("exp_avg_sq").floats("data"), rtol: 1e-5, atol: 1e-12, "\(name) v")
      }
    }
  }

  func testGradientClippingMatchesPyTorch() throws {
    for c in try Fixture("optimizers", in: .module).root.objects("clip") {
      var grads = (c["grads_before"] as! [[String: Any]]).map { Tensor(shape: $0.shape, scalars: $0.floats("data"), on: backend) }
      let norm = clipGradientNorm(&grads, maxNorm: Float(c.number("max_norm")))
      XCTAssertEqual(norm, Float(c.number("total_norm")), accuracy: 1e-5)
      for (g, expected) in zip(grads, c["grads_after"] as! [[String: Any]]) {
        assertClose(g.scalars, expected.floats("data"), rtol: 1e-6, atol: 1e-7)
      }
    }
  }

  func testCosineScheduleMatchesPyTorch() throws {
    let c = try Fixture("optimizers", in: .module).root.object("cosine")
    let schedule = CosineAnnealing(initial: c.number("lr0"), minimum: c.number("lr_min"), epochs: Int(c.number("T")))
    let expected = (c["torch_scheduler"] as! [NSNumber]).map(\.doubleValue)
    for (e, lr) in expected.enumerated() {
      XCTAssertEqual(schedule.learningRate(epoch: e), lr, accuracy: 1e-12, "epoch \(e)")
    }
    XCTAssertEqual(schedule.learningRate(epoch: 0), 0.025)
    XCTAssertEqual(schedule.learningRate(epoch: 49), 0.0010237, accuracy: 1e-6)
  }

  func testSGDConvergesOnAQuadratic() {
    // minimise ½‖w − 3‖²: the iterates approach 3.
    let p = Parameter(Tensor(shape: [2], scalars: [0, 10], on: backend), kind: .weight)
    var sgd = SGD(learningRate: 0.1, momentum: 0.9)
    for _ in 0..<200 {
      let w = p.value
      let loss = ((w - 3) * (w - 3)).sum() * 0.5
      sgd.step([("w", p)], gradients: gradients(of: loss, wrt: [w]))
    }
    assertClose(p.value.scalars, [3, 3], rtol: 0, atol: 1e-3)
  }
}
