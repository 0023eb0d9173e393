/// PC-DARTS (SPEC §5): the search loop of DARTS on a supernet with partial channels K and edge
/// normalisation (both read from the settings); what it adds is its reference settings and its
/// ImageNet search (``SearchSettings/imageNet()``).
public struct PCDARTSStrategy: SearchStrategy {
  public static let name = "pc-darts"
  public static let displayName = "PC-DARTS"
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

extension SearchSettings.Method {
  /// PC-DARTS (``PCDARTSStrategy``).
  public static let pcDarts = Self(PCDARTSStrategy.self)
}

extension SearchSettings {
  /// The PC-DARTS ImageNet search (`train_search_imagenet.py`, SPEC §5.5) on an image folder:
  /// K = 2, the ImageNet stem, C = 16, 8 cells, 50 epochs with α/β frozen for 35, batch 1024,
  /// SGD lr 0.5 cosine to 0 with 5 warm-up epochs (batch > 256 only), momentum 0.9, weight
  /// decay 3e-4 (the script's default; the paper says 3e-5), Adam 6e-3 with α/β gradients
  /// clipped to norm 5, per-class split 10 % / 2.5 %, 224×224 crops.
  public static func imageNet() -> SearchSettings {
    var s = SearchSettings.reference(for: .pcDarts)
    s.dataset = .imageFolder
    s.stem = .imageNet
    s.partialChannels = 2
    s.architectureWarmupEpochs = 35
    s.batchSize = 1024
    s.learningRate = 0.5
    s.learningRateMin = 0
    s.learningRateWarmupEpochs = 5
    s.architectureLearningRate = 6e-3
    s.architectureGradientClip = 5
    s.validationEpochs = 3
    return s
  }
}
