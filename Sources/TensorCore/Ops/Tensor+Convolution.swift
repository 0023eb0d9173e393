extension Tensor {
  /// 2-D cross-correlation of an NCHW input with an OIHW weight, no bias (PyTorch `conv2d`).
  ///
  /// - Parameters:
  ///   - weight: `[outChannels, inChannels / groups, kH, kW]`.
  ///   - stride, padding, dilation: `(height, width)` pairs; zero padding.
  ///   - groups: channel groups (`inChannels` for a depthwise convolution).
  ///   - rectifyingInput: convolve `relu(self)` without keeping `relu(self)` for the backward
  ///     pass (the ReLU → convolution pairs of every DARTS operation and cell preprocessing),
  ///     which saves one activation tensor; the backend fuses the ReLU into the kernel or
  ///     recomputes it (`ConvolutionPrimitives`).
  /// - Returns: `[N, outChannels, outH, outW]` with `out = (in + 2p − d(k−1) − 1)/s + 1`.
  public func conv2d(
    weight: Tensor, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
    dilation: (Int, Int) = (1, 1), groups: Int = 1, rectifyingInput: Bool = false
  ) -> Tensor {
    precondition(rank == 4 && weight.rank == 4, "conv2d needs NCHW input and OIHW weight, got \(shape) and \(weight.shape)")
    precondition(shape[1] == weight.shape[1] * groups, "conv2d: input has \(shape[1]) channels, weight expects \(weight.shape[1] * groups)")
    let g = ConvolutionGeometry(
      batch: shape[0], inChannels: shape[1], outChannels: weight.shape[0], inHeight: shape[2],
      inWidth: shape[3], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
      strideHeight: stride.0, strideWidth: stride.1, padHeight: padding.0, padWidth: padding.1,
      dilationHeight: dilation.0, dilationWidth: dilation.1, groups: groups)
    precondition(g.outHeight > 0 && g.outWidth > 0, "conv2d: \(g) has an empty output")
    let backend = Tensor.sharedBackend(of: [self, weight])
    let out = Tensor.uninitialized([g.batch, g.outChannels, g.outHeight, g.outWidth], on: backend)
    // A depthwise convolution reads a batch normalisation's deferred output through its recipe
    // (the kernel maps the normalisation's input as it reads it), so it never forms that
    // output; other convolutions read the values (formed once, shared with other readers).
    let mapped = recomputation.flatMap { r in
      g.isDepthwise && r.sampleScale == nil
        ? ConvolutionInput(r.source, channelAffine: (r.scale, r.shift), rectified: rectifyingInput) : nil
    }
    backend.convolutionForward(g, input: mapped ?? ConvolutionInput(storage, rectified: rectifyingInput), weight: weight.storage, output: out.storage)
    let (inputShape, savedWeight) = (shape, weight.detached())
    let savedInput = mapped == nil ? SavedActivation(self) : nil
    return Tensor.recorded(out, name: "conv2d", inputs: [self, weight]) { gradOut, needed in
      var dx: Tensor?
      var dw: Tensor?
      let input = needed[1] || (needed[0] && rectifyingInput)
        ? mapped ?? ConvolutionInput(savedInput!.values(), rectified: rectifyingInput) : nil
      if needed[0] {
        let t = Tensor.uninitialized(inputShape, on: backend)
        backend.convolutionBackwardInput(
          g, gradOutput: gradOut.storage, weight: savedWeight.storage, gradInput: t.storage,
          rectifiedInput: rectifyingInput ? input : nil)
        dx = t
      }
      if needed[1] {
        let t = Tensor.uninitialized(savedWeight.shape, on: backend)
        backend.convolutionBackwardWeight(g, input: input!, gradOutput: gradOut.storage, gradWeight: t.storage)
        dw = t
      }
      return [dx, dw]
    }
  }

  private func poolGeometry(kernel: Int, stride: Int, padding: Int) -> PoolGeometry {
    precondition(rank == 4, "pooling needs an NCHW tensor, got \(shape)")
    let g = PoolGeometry(planes: shape[0] * shape[1], inHeight: shape[2], inWidth: shape[3], kernel: kernel, stride: stride, padding: padding)
    precondition(g.outHeight > 0 && g.outWidth > 0 && padding * 2 <= kernel, "pooling \(kernel)/\(stride)/\(padding) does not fit \(shape)")
    return g
  }

  /// Max pooling with a square window (padding never wins), PyTorch `max_pool2d`.
  public func maxPool2d(kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
    let g = poolGeometry(kernel: kernel, stride: stride, padding: padding)
    let out = Tensor.uninitialized([shape[0], shape[1], g.outHeight, g.outWidth], on: backend)
    backend.maxPoolForward(g, input: storage, output: out.storage)
    let (inputShape, savedInput) = (shape, SavedActivation(self))
    return Tensor.recorded(out, name: "maxPool2d", inputs: [self]) { gradOut, _ in
      let dx = Tensor.uninitialized(inputShape, on: gradOut.backend)
      gradOut.backend.maxPoolBackward(g, input: savedInput.values(), gradOutput: gradOut.storage, gradInput: dx.storage)
      return [dx]
    }
  }

  /// Average pooling with a square window, PyTorch `avg_pool2d`. With
  /// `countIncludePad == false` (the DARTS `avg_pool_3x3`), padded positions are not counted.
  public func avgPool2d(kernel: Int, stride: Int, padding: Int = 0, countIncludePad: Bool = true) -> Tensor {
    let g = poolGeometry(kernel: kernel, stride: stride, padding: padding)
    let out = Tensor.uninitialized([shape[0], shape[1], g.outHeight, g.outWidth], on: backend)
    backend.averagePoolForward(g, countIncludePad: countIncludePad, input: storage, output: out.storage)
    let inputShape = shape
    return Tensor.recorded(out, name: "avgPool2d", inputs: [self]) { gradOut, _ in
      let dx = Tensor.uninitialized(inputShape, on: gradOut.backend)
      gradOut.backend.averagePoolBackward(g, countIncludePad: countIncludePad, gradOutput: gradOut.storage, gradInput: dx.storage)
      return [dx]
    }
  }

  /// Global average pooling `[N, C, H, W] → [N, C, 1, 1]`.
  public func globalAveragePooled() -> Tensor {
    mean(alongAxes: [2, 3], keepingDimensions: true)
  }

  /// Batch normalisation with the statistics of this batch (training mode), per channel of an
  /// NCHW tensor: `y = (x − mean)/√(var + ε)·γ + β` with the biased variance.
  ///
  /// - Parameters:
  ///   - gamma, beta: `[C]` affine parameters, or nil for `affine=False` (γ = 1, β = 0).
  /// - Returns: the output, and the batch mean and *biased* variance (constants, `[C]`) from
  ///   which the caller updates its running statistics.
  public func batchNormalized(gamma: Tensor?, beta: Tensor?, epsilon: Float = 1e-5) -> (output: Tensor, mean: Tensor, variance: Tensor) {
    precondition(rank == 4, "batch norm needs NCHW, got \(shape)")
    let (n, c, spatial) = (shape[0], shape[1], shape[2] * shape[3])
    let backend = Tensor.sharedBackend(of: [self] + [gamma, beta].compactMap { $0 })
    let mean = Tensor.uninitialized([c], on: backend)
    let variance = Tensor.uninitialized([c], on: backend)
    backend.batchNormStatistics(input: storage, batch: n, channels: c, spatial: spatial, mean: mean.storage, variance: variance.storage)
    let invStd = Tensor.uninitialized([c], on: backend)
    let scale = Tensor.uninitialized([c], on: backend)
    let shift = Tensor.uninitialized([c], on: backend)
    backend.batchNormCoefficients(
      mean: mean.storage, variance: variance.storage, gamma: gamma?.storage, beta: beta?.storage, epsilon: epsilon,
      channels: c, invStd: invStd.storage, scale: scale.storage, shift: shift.storage)
    var inputs = [self]
    if let gamma { inputs.append(gamma) }
    if let beta { inputs.append(beta) }
    // NOTE: without γ/β the output *is* x̂, so the backward pass reads the output instead of
    // the input, and the input (usually a convolution output nothing else keeps) can be freed
    // right after the forward pass. With γ/β the input is kept, and while the graph is recorded
    // the output is deferred: formed from the input when first read, never by a depthwise
    // convolution, and rebuilt by the rules that read it (`ChannelAffineRecomputation`), so
    // it is freed after the forward pass.
    let affineFree = gamma == nil && beta == nil
    let out: Tensor
    if !affineFree && Tensor.recordsGradient(of: inputs) {
      out = Tensor(shape: shape, deferring: ChannelAffineRecomputation(
        source: storage, scale: scale.storage, shift: shift.storage, sampleScale: nil, batch: n, channels: c,
        spatial: spatial), on: backend)
    } else {
      out = Tensor.uninitialized(shape, on: backend)
      backend.channelAffine(
        input: storage, scale: scale.storage, shift: shift.storage, sampleScale: nil, output: out.storage, batch: n,
        channels: c, spatial: spatial)
    }
    let saved = affineFree ? out : self
    let result = Tensor.recorded(out, name: "batchNorm", inputs: inputs) { gradOut, needed in
      let dx = Tensor.uninitialized(saved.shape, on: saved.backend)
      let dGamma = Tensor.uninitialized([c], on: saved.backend)
      let dBeta = Tensor.uninitialized([c], on: saved.backend)
      if affineFree {
        // x̂ = y: mean 0 and inverse deviation 1 in x̂'s own terms; the true 1/σ scales dx.
        let zeros = Tensor.zeros([c], on: saved.backend)
        let ones = Tensor(repeating: 1, shape: [c], on: saved.backend)
        backend.batchNormBackward(
          gradOutput: gradOut.storage, input: saved.storage, mean: zeros.storage, invStd: ones.storage,
          gamma: invStd.storage, gradInput: dx.storage, gradGamma: dGamma.storage, gradBeta: dBeta.storage,
          batch: n, channels: c, spatial: spatial)
      } else {
        backend.batchNormBackward(
          gradOutput: gradOut.storage, input: saved.storage, mean: mean.storage, invStd: invStd.storage,
          gamma: gamma?.storage, gradInput: dx.storage, gradGamma: dGamma.storage, gradBeta: dBeta.storage,
          batch: n, channels: c, spatial: spatial)
      }
      var grads: [Tensor?] = [needed[0] ? dx : nil]
      if gamma != nil { grads.append(dGamma) }
      if beta != nil { grads.append(dBeta) }
      return grads
    }
    return (result, mean, variance)
  }

  /// `y[n, c, …] = x[n, c, …]·scale[c] + shift[c]` for an NCHW tensor and `[C]` scale and shift:
  /// batch normalisation with fixed statistics (evaluation mode), folded into one pass.
  public func scaledPerChannel(scale: Tensor, shift: Tensor) -> Tensor {
    precondition(rank == 4 && scale.shape == [shape[1]] && shift.shape == [shape[1]], "per-channel affine of \(shape) needs [\(shape[1])] scale and shift")
    let (n, c, spatial) = (shape[0], shape[1], shape[2] * shape[3])
    let backend = Tensor.sharedBackend(of: [self, scale, shift])
    let out = Tensor.uninitialized(shape, on: backend)
    backend.channelAffine(
      input: storage, scale: scale.storage, shift: shift.storage, sampleScale: nil, output: out.storage, batch: n,
      channels: c, spatial: spatial)
    return Tensor.recorded(out, name: "scaledPerChannel", inputs: [self, scale, shift]) { g, needed in
      var dx: Tensor?
      if needed[0] {
        let t = Tensor.uninitialized(self.shape, on: self.backend)
        let zeros = Tensor.zeros([c], on: self.backend)
        backend.channelAffine(
          input: g.storage, scale: scale.storage, shift: zeros.storage, sampleScale: nil, output: t.storage, batch: n,
          channels: c, spatial: spatial)
        dx = t
      }
      let perChannel = [1, c, 1, 1]
      return [
        dx,
        needed[1] ? (g * self).summed(toShape: perChannel).reshaped(to: [c]) : nil,
        needed[2] ? g.summed(toShape: perChannel).reshaped(to: [c]) : nil,
      ]
    }
  }

  /// Matrix product of 2-D tensors, `op(a)·op(b)` with optional transposes
  /// (`a: [m, k]` or `[k, m]` when `transposeA`; `b: [k, n]` or `[n, k]` when `transposeB`).
  public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs 2-D tensors, got \(a.shape) and \(b.shape)")
    let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (k2, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    precondition(k == k2, "matmul inner dimensions differ: \(a.shape) and \(b.shape)")
    let backend = sharedBackend(of: [a, b])
    let out = Tensor.uninitialized([m, n], on: backend)
    backend.matrixMultiply(m: m, n: n, k: k, a: a.storage, lda: a.shape[1], transposeA: transposeA, b: b.storage, ldb: b.shape[1], transposeB: transposeB, c: out.storage, ldc: n)
    return recorded(out, name: "matmul", inputs: [a, b]) { g, needed in
      // dA = g·op(B)ᵀ (stored transposed when transposeA); dB = op(A)ᵀ·g (likewise).
      let da: Tensor? = needed[0]
        ? (transposeA ? matmul(b, g, transposeA: transposeB, transposeB: true) : matmul(g, b, transposeB: !transposeB))
        : nil
      let db: Tensor? = needed[1]
        ? (transposeB ? matmul(g, a, transposeA: true, transposeB: transposeA) : matmul(a, g, transposeA: !transposeA))
        : nil
      return [da, db]
    }
  }
}
