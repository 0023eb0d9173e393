import TensorCore

/// Batch normalisation over the channels of NCHW tensors, exactly PyTorch's `BatchNorm2d`.
///
/// Training mode normalises with the batch mean and biased variance and updates
/// `running = (1 − momentum)·running + momentum·batch` with the *unbiased* batch variance;
/// evaluation mode normalises with the running statistics. `affine=false` (the DARTS search
/// network's operations) has no γ/β but still tracks running statistics. Parameter names:
/// `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`.
public final class BatchNorm2d: Module, Layer {
  public let weight: Parameter?
  public let bias: Parameter?
  public let runningMean: Parameter
  public let runningVariance: Parameter
  public let batchesTracked: Parameter
  public let epsilon: Float
  public let momentum: Float

  public init(_ channels: Int, affine: Bool = true, epsilon: Float = 1e-5, momentum: Float = 0.1, using factory: inout ParameterFactory) {
    weight = affine ? factory.constant(1, shape: [channels], kind: .weight) : nil
    bias = affine ? factory.constant(0, shape: [channels], kind: .weight) : nil
    runningMean = factory.constant(0, shape: [channels], kind: .buffer)
    runningVariance = factory.constant(1, shape: [channels], kind: .buffer)
    batchesTracked = factory.constant(0, shape: [], kind: .buffer)
    self.epsilon = epsilon
    self.momentum = momentum
  }

  public override func referenceName(forProperty label: String) -> String? {
    switch label {
    case "runningMean": return "running_mean"
    case "runningVariance": return "running_var"
    case "batchesTracked": return "num_batches_tracked"
    case "epsilon", "momentum": return nil
    default: return label
    }
  }

  public func callAsFunction(_ input: Tensor) -> Tensor {
    if isTraining {
      let (output, mean, variance) = input.batchNormalized(gamma: weight?.value, beta: bias?.value, epsilon: epsilon)
      let n = Float(input.count / input.shape[1])
      let m = momentum
      let unbias = n / Swift.max(n - 1, 1)
      Tensor.runningAverageStep(&runningMean.value, toward: mean, momentum: m)
      Tensor.runningAverageStep(&runningVariance.value, toward: variance, momentum: m, scale: unbias)
      batchesTracked.assign(batchesTracked.value + 1)
      return output
    }
    // Evaluation: a per-channel affine map with the running statistics.
    let channels = input.shape[1]
    let invStd = Tensor(shape: [channels], scalars: runningVariance.value.scalars.map { 1 / ($0 + epsilon).squareRoot() }, on: input.backend)
    let scale = weight.map { $0.value * invStd } ?? invStd
    let centered = -(runningMean.value * scale)
    return input.scaledPerChannel(scale: scale, shift: bias.map { centered + $0.value } ?? centered)
  }
}
