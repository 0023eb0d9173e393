/// Plain-loop 2-D max and average pooling: the definition the fast pooling kernels are tested
/// against. Planes are independent (`planes = batch·channels`), windows follow `PoolGeometry`.
public enum ReferencePooling {
  /// `output[p, y, x] = max` over the window's in-bounds inputs (padding never wins; PyTorch
  /// pads max pooling with −∞). Overwrites `output`.
  public static func maxForward(
    _ g: PoolGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
  ) {
    for p in 0..<g.planes {
      for y in 0..<g.outHeight {
        for x in 0..<g.outWidth {
          var best = -Float.infinity
          forEachWindowInput(g, y, x) { iy, ix in
            best = max(best, input[(p * g.inHeight + iy) * g.inWidth + ix])
          }
          output[(p * g.outHeight + y) * g.outWidth + x] = best
        }
      }
    }
  }

  /// The gradient of `maxForward`: each output gradient goes to the first input (in row-major
  /// window order) that holds the window's maximum, as PyTorch's CPU kernel does. Overwrites
  /// `gradInput`.
  public static func maxBackward(
    _ g: PoolGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>
  ) {
    gradInput.update(repeating: 0, count: g.inputCount)
    for p in 0..<g.planes {
      for y in 0..<g.outHeight {
        for x in 0..<g.outWidth {
          var best = -Float.infinity
          var bestIndex = -1
          forEachWindowInput(g, y, x) { iy, ix in
            let index = (p * g.inHeight + iy) * g.inWidth + ix
            if input[index] > best || bestIndex < 0 {
              best = input[index]
              bestIndex = index
            }
          }
          gradInput[bestIndex] += gradOutput[(p * g.outHeight + y) * g.outWidth + x]
        }
      }
    }
  }

  /// Average over the window. With `countIncludePad == false` the divisor is the number of
  /// in-bounds inputs (PyTorch `count_include_pad=False`), otherwise the full window size.
  /// Overwrites `output`.
  public static func averageForward(
    _ g: PoolGeometry, countIncludePad: Bool, input: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>
  ) {
    for p in 0..<g.planes {
      for y in 0..<g.outHeight {
        for x in 0..<g.outWidth {
          var sum: Float = 0
          forEachWindowInput(g, y, x) { iy, ix in sum += input[(p * g.inHeight + iy) * g.inWidth + ix] }
          output[(p * g.outHeight + y) * g.outWidth + x] = sum / divisor(g, countIncludePad, y, x)
        }
      }
    }
  }

  /// The gradient of `averageForward`. Overwrites `gradInput`.
  public static func averageBackward(
    _ g: PoolGeometry, countIncludePad: Bool, gradOutput: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>
  ) {
    gradInput.update(repeating: 0, count: g.inputCount)
    for p in 0..<g.planes {
      for y in 0..<g.outHeight {
        for x in 0..<g.outWidth {
          let share =
            gradOutput[(p * g.outHeight + y) * g.outWidth + x] / divisor(g, countIncludePad, y, x)
          forEachWindowInput(g, y, x) { iy, ix in gradInput[(p * g.inHeight + iy) * g.inWidth + ix] += share }
        }
      }
    }
  }

  /// The averaging divisor of output position (y, x).
  public static func divisor(_ g: PoolGeometry, _ countIncludePad: Bool, _ y: Int, _ x: Int) -> Float {
    if countIncludePad { return Float(g.kernelHeight * g.kernelWidth) }
    var count = 0
    forEachWindowInput(g, y, x) { _, _ in count += 1 }
    return Float(count)
  }

  /// Calls `body(iy, ix)` for the in-bounds input positions of output position (y, x).
  static func forEachWindowInput(_ g: PoolGeometry, _ y: Int, _ x: Int, _ body: (Int, Int) -> Void) {
    for ky in 0..<g.kernelHeight {
      let iy = y * g.strideHeight - g.padHeight + ky
      if iy < 0 || iy >= g.inHeight { continue }
      for kx in 0..<g.kernelWidth {
        let ix = x * g.strideWidth - g.padWidth + kx
        if ix < 0 || ix >= g.inWidth { continue }
        body(iy, ix)
      }
    }
  }
}
