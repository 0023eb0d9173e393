/// The genotypes published with DARTS, P-DARTS and PC-DARTS (SPEC §3.3), by their reference
/// names, plus the NASNet-A and AmoebaNet-A baselines of the reference `genotypes.py`.
extension Genotype {
  private static func edges(_ pairs: [(Primitive, Int)]) -> [Edge] { pairs.map { Edge($0.0, $0.1) } }

  /// DARTS first order (`DARTS_V1`).
  public static let dartsV1 = Genotype(
    normal: edges([(.sepConv3x3, 1), (.sepConv3x3, 0), (.skipConnect, 0), (.sepConv3x3, 1), (.skipConnect, 0), (.sepConv3x3, 1), (.sepConv3x3, 0), (.skipConnect, 2)]),
    reduce: edges([(.maxPool3x3, 0), (.maxPool3x3, 1), (.skipConnect, 2), (.maxPool3x3, 0), (.maxPool3x3, 0), (.skipConnect, 2), (.skipConnect, 2), (.avgPool3x3, 0)]))

  /// DARTS second order (`DARTS_V2`, the reference default `DARTS`).
  public static let dartsV2 = Genotype(
    normal: edges([(.sepConv3x3, 0), (.sepConv3x3, 1), (.sepConv3x3, 0), (.sepConv3x3, 1), (.sepConv3x3, 1), (.skipConnect, 0), (.skipConnect, 0), (.dilConv3x3, 2)]),
    reduce: edges([(.maxPool3x3, 0), (.maxPool3x3, 1), (.skipConnect, 2), (.maxPool3x3, 1), (.maxPool3x3, 0), (.skipConnect, 2), (.skipConnect, 2), (.maxPool3x3, 1)]))

  /// P-DARTS, CIFAR-10 (`PDARTS`).
  public static let pdarts = Genotype(
    normal: edges([(.skipConnect, 0), (.dilConv3x3, 1), (.skipConnect, 0), (.sepConv3x3, 1), (.sepConv3x3, 1), (.sepConv3x3, 3), (.sepConv3x3, 0), (.dilConv5x5, 4)]),
    reduce: edges([(.avgPool3x3, 0), (.sepConv5x5, 1), (.sepConv3x3, 0), (.dilConv5x5, 2), (.maxPool3x3, 0), (.dilConv3x3, 1), (.dilConv3x3, 1), (.dilConv5x5, 3)]))

  /// PC-DARTS searched on CIFAR-10 (`PC_DARTS_cifar`, alias `PCDARTS`).
  public static let pcDartsCIFAR = Genotype(
    normal: edges([(.sepConv3x3, 1), (.skipConnect, 0), (.sepConv3x3, 0), (.dilConv3x3, 1), (.sepConv5x5, 0), (.sepConv3x3, 1), (.avgPool3x3, 0), (.dilConv3x3, 1)]),
    reduce: edges([(.sepConv5x5, 1), (.maxPool3x3, 0), (.sepConv5x5, 1), (.sepConv5x5, 2), (.sepConv3x3, 0), (.sepConv3x3, 3), (.sepConv3x3, 1), (.sepConv3x3, 2)]))

  /// PC-DARTS searched on ImageNet (`PC_DARTS_image`).
  public static let pcDartsImageNet = Genotype(
    normal: edges([(.skipConnect, 1), (.sepConv3x3, 0), (.sepConv3x3, 0), (.skipConnect, 1), (.sepConv3x3, 1), (.sepConv3x3, 3), (.sepConv3x3, 1), (.dilConv5x5, 4)]),
    reduce: edges([(.sepConv3x3, 0), (.skipConnect, 1), (.dilConv5x5, 2), (.maxPool3x3, 1), (.sepConv3x3, 2), (.sepConv3x3, 1), (.sepConv5x5, 0), (.sepConv3x3, 3)]))

  /// NASNet-A baseline (5 nodes; normal concat 2…6, reduce concat 4…6).
  public static let nasNet = Genotype(
    normal: edges([(.sepConv5x5, 1), (.sepConv3x3, 0), (.sepConv5x5, 0), (.sepConv3x3, 0), (.avgPool3x3, 1), (.skipConnect, 0), (.avgPool3x3, 0), (.avgPool3x3, 0), (.sepConv3x3, 1), (.skipConnect, 1)]),
    normalConcat: [2, 3, 4, 5, 6],
    reduce: edges([(.sepConv5x5, 1), (.sepConv7x7, 0), (.maxPool3x3, 1), (.sepConv7x7, 0), (.avgPool3x3, 1), (.sepConv5x5, 0), (.skipConnect, 3), (.avgPool3x3, 2), (.sepConv3x3, 2), (.maxPool3x3, 1)]),
    reduceConcat: [4, 5, 6])

  /// AmoebaNet-A baseline (5 nodes; normal concat 4…6, reduce concat 3, 4, 6).
  public static let amoebaNet = Genotype(
    normal: edges([(.avgPool3x3, 0), (.maxPool3x3, 1), (.sepConv3x3, 0), (.sepConv5x5, 2), (.sepConv3x3, 0), (.avgPool3x3, 3), (.sepConv3x3, 1), (.skipConnect, 1), (.skipConnect, 0), (.avgPool3x3, 1)]),
    normalConcat: [4, 5, 6],
    reduce: edges([(.avgPool3x3, 0), (.sepConv3x3, 1), (.maxPool3x3, 0), (.sepConv7x7, 2), (.sepConv7x7, 0), (.avgPool3x3, 1), (.maxPool3x3, 0), (.maxPool3x3, 1), (.conv7x1And1x7, 0), (.sepConv3x3, 5)]),
    reduceConcat: [3, 4, 6])

  /// Every built-in genotype by its reference name (aliases included).
  public static let published: [String: Genotype] = [
    "DARTS_V1": dartsV1, "DARTS_V2": dartsV2, "DARTS": dartsV2, "PDARTS": pdarts,
    "PC_DARTS_cifar": pcDartsCIFAR, "PCDARTS": pcDartsCIFAR, "PC_DARTS_image": pcDartsImageNet,
    "NASNet": nasNet, "AmoebaNet": amoebaNet,
  ]
}
