/// DARTS (SPEC §2): one stage over the settings' supernet, every operation on every edge, α
/// frozen for `architectureWarmupEpochs`, the genotype of SPEC §2.8. Its reference settings
/// are the defaults of ``SearchSettings`` (`cnn/train_search.py`, SPEC §2.2).
public struct DARTSStrategy: SearchStrategy {
  public static let name = "darts"
  public static let displayName = "DARTS"
  public let settings: SearchSettings
  public init(settings: SearchSettings) { self.settings = settings }
}

extension SearchSettings.Method {
  /// DARTS (``DARTSStrategy``), the default.
  public static let darts = Self(DARTSStrategy.self)
}
