import Search
import SearchSpace

/// What `darts bench search` times for one search method, and which of its options apply:
/// one entry per method in ``all``, so that the command holds wiring only and a method's
/// benchmark is one entry here.
public struct SearchMethodBenchmark: Sendable {
  /// The options of `darts bench search` that choose and size the steps.
  public struct Options: Sendable {
    public var order: Int
    public var partialChannels: Int
    /// The one stage to time (nil: every stage).
    public var stage: Int?
    public var batch: Int
    public var threads: Int
    public var steps: Int
    public var channels: Int
    public var layers: Int

    public init(order: Int, partialChannels: Int, stage: Int?, batch: Int, threads: Int, steps: Int, channels: Int, layers: Int) {
      (self.order, self.partialChannels, self.stage) = (order, partialChannels, stage)
      (self.batch, self.threads, self.steps, self.channels, self.layers) = (batch, threads, steps, channels, layers)
    }
  }

  /// One timed step: its label, the Swift step and the `darts_reference.py bench` arguments of
  /// the same step in the PyTorch reference.
  public typealias Case = (what: String, benchmark: SearchStepBenchmark, reference: [String])

  public let method: SearchSettings.Method
  /// Whether `--order 2` applies (otherwise first order only).
  let secondOrder: Bool
  /// Whether `--channels` and `--layers` size the network (otherwise the method's reference
  /// network), which `--pytorch` then compares at the reference setting only.
  let sizedNetwork: Bool
  /// Whether `--partial-channels` applies, which `--pytorch` compares at K = 4 only.
  let partialChannels: Bool
  /// The stages `--stage` chooses from, 1…`stages` (0: no stages).
  let stages: Int
  /// Whether `--beside-darts` applies.
  let besideDarts: Bool
  /// The steps timed with valid options (``problem(_:pytorch:besideDarts:)`` is nil).
  public let cases: @Sendable (Options) -> [Case]

  /// DARTS at C and L cells, first or second order.
  public static let darts = SearchMethodBenchmark(
    method: .darts, secondOrder: true, sizedNetwork: true, partialChannels: false, stages: 0, besideDarts: false
  ) { o in
    let b = SearchStepBenchmark(
      configuration: SearchNetworkConfiguration(channels: o.channels, layers: o.layers), order: o.order == 1 ? .first : .second,
      batch: o.batch, threads: o.threads, steps: o.steps)
    return [("darts order \(o.order)", b, ["--what", o.order == 1 ? "search1" : "search2"])]
  }

  /// PC-DARTS with K partial channels (``SearchStepBenchmark/partialChannel(partialChannels:batch:threads:steps:)``).
  public static let pcDarts = SearchMethodBenchmark(
    method: .pcDarts, secondOrder: false, sizedNetwork: false, partialChannels: true, stages: 0, besideDarts: true
  ) { o in
    [("pc-darts K=\(o.partialChannels)", .partialChannel(partialChannels: o.partialChannels, batch: o.batch, threads: o.threads, steps: o.steps), ["--what", "pcdarts"])]
  }

  /// Each P-DARTS stage (``SearchStepBenchmark/progressiveStage(_:batch:threads:steps:)``), or the one `--stage` names.
  public static let pDarts = SearchMethodBenchmark(
    method: .pDarts, secondOrder: false, sizedNetwork: false, partialChannels: false, stages: 3, besideDarts: false
  ) { o in
    (o.stage.map { [$0] } ?? [1, 2, 3]).map { s in
      let cells = [5, 11, 17][s - 1]
      let ops = [8, 5, 3][s - 1]
      return ("p-darts stage \(s) (\(cells) cells, \(ops) ops)", .progressiveStage(s, batch: o.batch, threads: o.threads, steps: o.steps),
              ["--what", "pdarts-stage\(s)", "--switches", "cyclic"])
    }
  }

  /// Every method's benchmark, in the order help text lists them.
  public static let all = [darts, pcDarts, pDarts]

  /// The benchmark of `method`, or nil when it has none.
  public static func of(_ method: SearchSettings.Method) -> SearchMethodBenchmark? { all.first { $0.method == method } }

  /// The methods of the entries of ``all`` that `include` chooses, as a list in prose.
  private static func methods(_ include: (SearchMethodBenchmark) -> Bool, _ conjunction: String = "or") -> String {
    all.filter(include).map(\.method.rawValue).listed(conjunction)
  }

  /// A one-line reason this method cannot time `o` (with `pytorch`: beside the PyTorch
  /// reference; with `besideDarts`: beside the DARTS step), or nil. The options every method
  /// shares (batch, threads, network size) are checked before.
  public func problem(_ o: Options, pytorch: Bool, besideDarts: Bool) -> String? {
    let referenceNetwork = o.channels == 16 && o.layers == 8
    if pytorch && sizedNetwork && !referenceNetwork { return "--pytorch compares the reference setting only (--channels 16 --layers 8)" }
    if !secondOrder && o.order != 1 { return "--order 2 is for --method \(Self.methods(\.secondOrder)) only" }
    if !sizedNetwork && !referenceNetwork {
      return "--channels and --layers are for --method \(Self.methods(\.sizedNetwork)) (\(Self.methods({ !$0.sizedNetwork }, "and")) use their reference networks)"
    }
    if o.partialChannels < 1 || 16 % o.partialChannels != 0 { return "--partial-channels must divide 16" }
    if pytorch && partialChannels && o.partialChannels != 4 { return "--pytorch compares K = 4 only" }
    if let stage = o.stage, !(1..<(stages + 1)).contains(stage) {
      let staged = stages > 0 ? [self] : Self.all.filter { $0.stages > 0 }
      return "--stage is " + staged.map { "\((1..<($0.stages + 1)).map(String.init).listed()) with --method \($0.method)" }.listed()
    }
    if besideDarts && (!self.besideDarts || pytorch) { return "--beside-darts is for --method \(Self.methods(\.besideDarts)), without --pytorch" }
    return nil
  }
}
