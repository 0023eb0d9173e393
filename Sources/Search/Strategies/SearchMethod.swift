extension SearchSettings {
  /// A search method: one registered ``SearchStrategy`` type, named in `--method` and in
  /// `config.json` by the strategy's ``SearchStrategy/name`` ("p-darts"). Each strategy's file
  /// declares its method as a static member (``darts``, ``pcDarts``, ``pDarts``); parsing,
  /// coding and the lists of help text go through ``strategies`` (``allCases``).
  public struct Method: RawRepresentable, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Every search method, in the order help text lists them. A new method is its strategy's
    /// file and its line here.
    static let strategies: [any SearchStrategy.Type] = [DARTSStrategy.self, PCDARTSStrategy.self, PDARTSStrategy.self]

    /// The method's strategy type.
    public let strategy: any SearchStrategy.Type

    /// The method of a strategy type listed in ``strategies``.
    init(_ strategy: any SearchStrategy.Type) { self.strategy = strategy }

    /// The registered method named `rawValue`, or nil.
    public init?(rawValue: String) {
      guard let strategy = Self.strategies.first(where: { $0.name == rawValue }) else { return nil }
      self.strategy = strategy
    }

    /// The strategy's name ("p-darts").
    public var rawValue: String { strategy.name }
    /// The strategy's name in prose ("P-DARTS").
    public var displayName: String { strategy.displayName }
    public var description: String { rawValue }
    public static var allCases: [Method] { strategies.map(Method.init) }

    public static func == (a: Method, b: Method) -> Bool { a.rawValue == b.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
  }
}
