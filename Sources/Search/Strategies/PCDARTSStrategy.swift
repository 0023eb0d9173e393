/// PC-DARTS (SPEC §5): the search loop of DARTS on a supernet with partial channels K and edge
/// normalisation (both read from the settings); what it adds is its reference settings.
public struct PCDARTSStrategy: SearchStrategy {
  public let settings: SearchSettings
  public init(settings: SearchSettings) { self.settings = settings }

  /// `train_search.py` (SPEC §5.4): batch 256, SGD 0.1 → 0, Adam 6e-4, α/β frozen for 15
  /// epochs, K = 4, edge normalisation, the architecture split evaluated after the last epoch.
  public static func reference(_ s: inout SearchSettings) {
    s.batchSize = 256
    s.learningRate = 0.1
    s.learningRateMin = 0
    s.architectureLearningRate = 6e-4
    s.architectureWarmupEpochs = 15
    s.partialChannels = 4
    s.edgeNormalization = true
    s.validationEpochs = 1
  }

  /// PC-DARTS's memory saving buys a larger batch, as in the paper (64, SGD 0.1).
  public static func demo(_ s: inout SearchSettings) {
    s.batchSize = 64
    s.learningRate = 0.1
  }
}
