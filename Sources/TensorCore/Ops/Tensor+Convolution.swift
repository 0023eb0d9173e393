import CPUKernels

extension Tensor {
  /// 2-D cross-correlation of an NCHW input with an OIHW weight, no bias (PyTorch `conv2d`).
  ///
  /// - Parameters:
  ///   - weight: `[outChannels, inChannels / groups, kH, kW]`.
  ///   - stride, padding, dilation: `(height, width)` pairs; zero padding.
  ///   - groups: channel groups (`inChannels` for a depthwise convolution).
  ///   - rectifyingInput: convolve `relu(self)` without keeping `relu(self)` for the backward
  ///     pass. Depthwise kernels apply the ReLU as they read (the ReLU → depthwise pair that
  ///     opens every DARTS separable and dilated convolution); other convolutions rectify into
  ///     a temporary that is dropped after the forward pass and recomputed for the weight
  ///     gradient (the cells' ReLU → 1×1 preprocessing), which saves one activation tensor.
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
    let fused = rectifyingInput && Convolution.fusesRectification(g)
    let recomputed = rectifyingInput && !fused
    let backend = Tensor.sharedBackend(of: [self, weight])
    let out = Tensor.uninitialized([g.batch, g.outChannels, g.outHeight, g.outWidth], on: backend)
    let pool = backend.pool
    if recomputed {
      withRectifiedCopy { Convolution.forward(g, input: $0, weight: weight.storage.pointer, output: out.storage.pointer, pool: pool) }
    } else {
      Convolution.forward(g, input: storage.pointer, weight: weight.storage.pointer, output: out.storage.pointer, pool: pool, rectifiedInput: fused)
    }
    return Tensor.recorded(out, name: "conv2d", inputs: [self, weight]) { gradOut, needed in
      var dx: Tensor?
      var dw: Tensor?
      if needed[0] {
        let t = Tensor.uninitialized(self.shape, on: self.backend)
        if fused && g.isDepthwise {
          DepthwiseConvolution.backwardInput(g, gradOutput: gradOut.storage.pointer, weight: weight.storage.pointer, gradInput: t.storage.pointer, pool: pool, rectifiedInput: self.storage.pointer)
        } else {
          Convolution.backwardInput(g, gradOutput: gradOut.storage.pointer, weight: weight.storage.pointer, gradInput: t.storage.pointer, pool: pool)
          if rectifyingInput {
            Elementwise.reluBackward(input: self.storage.pointer, gradOutput: t.storage.pointer, gradInput: t.storage.pointer, count: t.count, pool: pool)
          }
        }
        dx = t
      }
      if needed[1] {
        let t = Tensor.uninitialized(weight.shape, on: self.backend)
        if recomputed {
          self.withRectifiedCopy { Convolution.backwardWeight(g, input: $0, gradOutput: gradOut.storage.pointer, gradWeight: t.storage.pointer, pool: pool) }
        } else {
          Convolution.backwardWeight(g, input: self.storage.pointer, gradOutput: gradOut.storage.pointer, gradWeight: t.storage.pointer, pool: pool, rectifiedInput: fused)
        }
        dw = t
      }
      return [dx, dw]
    }
  }

  /// Calls `body` with `relu(self)` in the worker pool's scratch memory (valid during the
  /// call; not a tensor, so it never fragments the tensor allocator).
  private func withRectifiedCopy(_ body: (UnsafePointer<Float>) -> Void) {
    let pool = backend.pool
    pool.withScratch(count: count) { scratch in
      Elementwise.relu(storage.pointer, scratch, count: count, pool: pool)
      body(scratch)
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
    Pooling.maxForward(g, input: storage.pointer, output: out.storage.pointer, pool: backend.pool)
    return Tensor.recorded(out, name: "maxPool2d", inputs: [self]) { gradOut, _ in
      let dx = Tensor.uninitialized(self.shape, on: self.backend)
      Pooling.maxBackward(g, input: self.storage.pointer, gradOutput: gradOut.storage.pointer, gradInput: dx.storage.pointer, pool: self.backend.pool)
      return [dx]
    }
  }

  /// Average pooling with a square window, PyTorch `avg_pool2d`. With
  /// `countIncludePad == false` (the DARTS `avg_pool_3x3`), padded positions are not counted.
  public func avgPool2d(kernel: Int, stride: Int, padding: Int = 0, countIncludePad: Bool = true) -> Tensor {
    let g = poolGeometry(kernel: kernel, stride: stride, padding: padding)
    let out = Tensor.uninitialized([shape[0], shape[1], g.outHeight, g.outWidth], on: backend)
    Pooling.averageForward(g, countIncludePad: countIncludePad, input: storage.pointer, output: out.storage.pointer, pool: backend.pool)
    let inputShape = shape
    return Tensor.recorded(out, name: "avgPool2d", inputs: [self]) { gradOut, _ in
      let dx = Tensor.uninitialized(inputShape, on: gradOut.backend)
      Pooling.averageBackward(g, countIncludePad: countIncludePad, gradOutput: gradOut.storage.pointer, gradInput: dx.storage.pointer, pool: gradOut.backend.pool)
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
    let pool = backend.pool
    let mean = Tensor.uninitialized([c], on: backend)
    let variance = Tensor.uninitialized([c], on: backend)
    BatchNormKernels.statistics(input: storage.pointer, batch: n, channels: c, spatial: spatial, mean: mean.storage.pointer, variance: variance.storage.pointer, pool: pool)
    let invStd = Tensor.uninitialized([c], on: backend)
    let scale = Tensor.uninitialized([c], on: backend)
    let shift = Tensor.uninitialized([c], on: backend)
    for k in 0..<c {
      let inv = 1 / (variance.storage.pointer[k] + epsilon).squareRoot()
      invStd.storage.pointer[k] = inv
      let s = (gamma?.storage.pointer[k] ?? 1) * inv
      scale.storage.pointer[k] = s
      shift.storage.pointer[k] = (beta?.storage.pointer[k] ?? 0) - mean.storage.pointer[k] * s
    }
    let out = Tensor.uninitialized(shape, on: backend)
    BatchNormKernels.channelAffine(input: storage.pointer, scale: scale.storage.pointer, shift: shift.storage.pointer, output: out.storage.pointer, batch: n, channels: c, spatial: spatial, pool: pool)
    var inputs = [self]
    if let gamma { inputs.append(gamma) }
    if let beta { inputs.append(beta) }
    // NOTE: without γ/β the output *is* x̂, so the backward pass reads the output instead of
    // the input, and the input (usually a convolution output nothing else keeps) can be freed
    // right after the forward pass. With γ/β the input is kept.
    let affineFree = gamma == nil && beta == nil
    let saved = affineFree ? out : self
    let result = Tensor.recorded(out, name: "batchNorm", inputs: inputs) { gradOut, needed in
      let dx = Tensor.uninitialized(saved.shape, on: saved.backend)
      let dGamma = Tensor.uninitialized([c], on: saved.backend)
      let dBeta = Tensor.uninitialized([c], on: saved.backend)
      if affineFree {
        // x̂ = y: mean 0 and inverse deviation 1 in x̂'s own terms; the true 1/σ scales dx.
        let zeros = Tensor.zeros([c], on: saved.backend)
        let ones = Tensor(repeating: 1, shape: [c], on: saved.backend)
        BatchNormKernels.backward(
          gradOutput: gradOut.storage.pointer, input: saved.storage.pointer, mean: zeros.storage.pointer,
          invStd: ones.storage.pointer, gamma: invStd.storage.pointer, gradInput: dx.storage.pointer,
          gradGamma: dGamma.storage.pointer, gradBeta: dBeta.storage.pointer, batch: n, channels: c,
          spatial: spatial, pool: saved.backend.pool)
      } else {
        BatchNormKernels.backward(
          gradOutput: gradOut.storage.pointer, input: saved.storage.pointer, mean: mean.storage.pointer,
          invStd: invStd.storage.pointer, gamma: gamma?.storage.pointer, gradInput: dx.storage.pointer,
          gradGamma: dGamma.storage.pointer, gradBeta: dBeta.storage.pointer, batch: n, channels: c,
          spatial: spatial, pool: saved.backend.pool)
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
    BatchNormKernels.channelAffine(input: storage.pointer, scale: scale.storage.pointer, shift: shift.storage.pointer, output: out.storage.pointer, batch: n, channels: c, spatial: spatial, pool: backend.pool)
    return Tensor.recorded(out, name: "scaledPerChannel", inputs: [self, scale, shift]) { g, needed in
      var dx: Tensor?
      if needed[0] {
        let t = Tensor.uninitialized(self.shape, on: self.backend)
        let zeros = Tensor.zeros([c], on: self.backend)
        BatchNormKernels.channelAffine(input: g.storage.pointer, scale: scale.storage.pointer, shift: zeros.storage.pointer, output: t.storage.pointer, batch: n, channels: c, spatial: spatial, pool: self.backend.pool)
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
    GEMM.multiply(m: m, n: n, k: k, a: a.storage.pointer, lda: a.shape[1], transposeA: transposeA, b: b.storage.pointer, ldb: b.shape[1], transposeB: transposeB, c: out.storage.pointer, ldc: n, accumulate: false, pool: backend.pool)
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
