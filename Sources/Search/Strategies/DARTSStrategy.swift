/// DARTS (SPEC §2) and PC-DARTS (SPEC §5): one stage over the settings' supernet, every
/// operation on every edge, α frozen for `architectureWarmupEpochs`, the genotype of SPEC §2.8.
/// PC-DARTS differs only in that supernet (partial channels K and edge normalisation, both
/// read from the settings), so it shares every answer of this strategy.
public struct DARTSStrategy: SearchStrategy {
  public let settings: SearchSettings
}
