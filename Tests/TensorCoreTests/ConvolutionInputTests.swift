import TensorCore
import XCTest
import _TestSupport

/// A convolution input read through a channel map (`ConvolutionInput.channelAffine`, a batch
/// normalisation's output rebuilt as it is read), with and without the ReLU, on every kernel
/// family: the CPU backend (fused into the depthwise kernels, a mapped scratch copy for the
/// others) gives exactly what it gives on the mapped values formed by `channelAffine`, and
/// matches the reference backend.
final class ConvolutionInputTests: XCTestCase {
  private func geometry(channels: Int, out: Int, kernel: Int, padding: Int, groups: Int) -> ConvolutionGeometry {
    ConvolutionGeometry(
      batch: 2, inChannels: channels, outChannels: out, inHeight: 9, inWidth: 11, kernelHeight: kernel,
      kernelWidth: kernel, strideHeight: 1, strideWidth: 1, padHeight: padding, padWidth: padding,
      dilationHeight: 1, dilationWidth: 1, groups: groups)
  }

  private func storage(_ values: [Float], on backend: any Backend) -> TensorStorage {
    let s = backend.allocate(values.count)
    values.withUnsafeBufferPointer { backend.upload($0, to: s) }
    return s
  }

  private func values(_ s: TensorStorage, _ count: Int, on backend: any Backend) -> [Float] {
    backend.withHostElements(of: s, count: count) { Array($0) }
  }

  /// Forward, input gradient (gated when rectified) and weight gradient of `g` on `backend`,
  /// reading the input through `map` when given, else `input` as stored.
  private func passes(
    _ g: ConvolutionGeometry, input: [Float], map: (scale: [Float], shift: [Float])?, rectified: Bool,
    weight: [Float], gradOutput: [Float], on backend: any Backend
  ) -> [[Float]] {
    let read = ConvolutionInput(
      storage(input, on: backend), channelAffine: map.map { (storage($0.scale, on: backend), storage($0.shift, on: backend)) },
      rectified: rectified)
    let (w, dy) = (storage(weight, on: backend), storage(gradOutput, on: backend))
    let (y, dx, dw) = (backend.allocate(g.outputCount), backend.allocate(g.inputCount), backend.allocate(g.weightCount))
    backend.convolutionForward(g, input: read, weight: w, output: y)
    backend.convolutionBackwardInput(g, gradOutput: dy, weight: w, gradInput: dx, rectifiedInput: rectified ? read : nil)
    backend.convolutionBackwardWeight(g, input: read, gradOutput: dy, gradWeight: dw)
    return [values(y, g.outputCount, on: backend), values(dx, g.inputCount, on: backend), values(dw, g.weightCount, on: backend)]
  }

  func testChannelMappedInputOnEveryKernelFamily() {
    let cpu = CPUBackend(threads: 2)
    let reference = ReferenceBackend()
    let families = [
      ("depthwise", geometry(channels: 4, out: 4, kernel: 3, padding: 1, groups: 4)),
      ("1x1", geometry(channels: 4, out: 6, kernel: 1, padding: 0, groups: 1)),
      ("dense", geometry(channels: 4, out: 3, kernel: 3, padding: 1, groups: 1)),
    ]
    for (name, g) in families {
      let input = randomArray(g.inputCount, seed: 1)
      let map = (scale: randomArray(4, seed: 2, low: 0.5, high: 1.5), shift: randomArray(4, seed: 3, low: -0.4, high: 0.4))
      let (weight, gradOutput) = (randomArray(g.weightCount, seed: 4), randomArray(g.outputCount, seed: 5))
      let mappedStorage = cpu.allocate(g.inputCount)
      cpu.channelAffine(
        input: storage(input, on: cpu), scale: storage(map.scale, on: cpu), shift: storage(map.shift, on: cpu),
        sampleScale: nil, output: mappedStorage, batch: g.batch, channels: 4, spatial: g.inHeight * g.inWidth)
      let mapped = values(mappedStorage, g.inputCount, on: cpu)
      XCTAssertTrue(mapped.contains { $0 > 0 } && mapped.contains { $0 < 0 }, "the ReLU gate opens and closes")
      for rectified in [false, true] {
        let label = "\(name) rectified \(rectified)"
        let fused = passes(g, input: input, map: map, rectified: rectified, weight: weight, gradOutput: gradOutput, on: cpu)
        let formed = passes(g, input: mapped, map: nil, rectified: rectified, weight: weight, gradOutput: gradOutput, on: cpu)
        let expected = passes(
          g, input: input, map: map, rectified: rectified, weight: weight, gradOutput: gradOutput, on: reference)
        for (pass, passName) in ["forward", "input gradient", "weight gradient"].enumerated() {
          XCTAssertEqual(fused[pass], formed[pass], "\(passName) \(label): mapped as read vs formed")
          assertClose(fused[pass], expected[pass], rtol: 1e-4, atol: 1e-5, "\(passName) \(label) vs the reference backend")
        }
      }
    }
  }
}
