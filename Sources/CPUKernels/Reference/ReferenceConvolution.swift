/// Plain-loop 2-D convolution: the definition every fast convolution kernel is tested against.
///
/// Cross-correlation as in PyTorch's `conv2d` (no bias), NCHW input, OIHW weight, any stride,
/// padding (zeros), dilation and groups. Slow by design: one multiply-add per loop iteration.
public enum ReferenceConvolution {
  /// `output[n, o, y, x] = Σ_{c, ky, kx} input[n, g·Cg + c, y·s − p + ky·d, x·s − p + kx·d] · weight[o, c, ky, kx]`
  /// with `g` the group of output channel `o` and `Cg = inChannels / groups`. Overwrites `output`.
  public static func forward(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>
  ) {
    output.update(repeating: 0, count: g.outputCount)
    visit(g) { inputIndex, weightIndex, outputIndex in
      output[outputIndex] += input[inputIndex] * weight[weightIndex]
    }
  }

  /// The gradient of `forward` with respect to its input. Overwrites `gradInput`.
  public static func backwardInput(
    _ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>
  ) {
    gradInput.update(repeating: 0, count: g.inputCount)
    visit(g) { inputIndex, weightIndex, outputIndex in
      gradInput[inputIndex] += gradOutput[outputIndex] * weight[weightIndex]
    }
  }

  /// The gradient of `forward` with respect to its weight. Overwrites `gradWeight`.
  public static func backwardWeight(
    _ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>
  ) {
    gradWeight.update(repeating: 0, count: g.weightCount)
    visit(g) { inputIndex, weightIndex, outputIndex in
      gradWeight[weightIndex] += gradOutput[outputIndex] * input[inputIndex]
    }
  }

  /// Calls `body(inputIndex, weightIndex, outputIndex)` for every multiply-add of the forward pass.
  private static func visit(_ g: ConvolutionGeometry, _ body: (Int, Int, Int) -> Void) {
    let cinPerGroup = g.inChannels / g.groups
    let coutPerGroup = g.outChannels / g.groups
    let (oh, ow) = (g.outHeight, g.outWidth)
    for n in 0..<g.batch {
      for o in 0..<g.outChannels {
        let group = o / coutPerGroup
        for y in 0..<oh {
          for x in 0..<ow {
            let outputIndex = ((n * g.outChannels + o) * oh + y) * ow + x
            for c in 0..<cinPerGroup {
              let ci = group * cinPerGroup + c
              for ky in 0..<g.kernelHeight {
                let iy = y * g.strideHeight - g.padHeight + ky * g.dilationHeight
                if iy < 0 || iy >= g.inHeight { continue }
                for kx in 0..<g.kernelWidth {
                  let ix = x * g.strideWidth - g.padWidth + kx * g.dilationWidth
                  if ix < 0 || ix >= g.inWidth { continue }
                  body(
                    ((n * g.inChannels + ci) * g.inHeight + iy) * g.inWidth + ix,
                    ((o * cinPerGroup + c) * g.kernelHeight + ky) * g.kernelWidth + kx,
                    outputIndex)
                }
              }
            }
          }
        }
      }
    }
  }
}
