extension Duration {
  /// The duration in seconds, for event logs.
  public var inSeconds: Double {
    Double(components.seconds) + Double(components.attoseconds) * 1e-18
  }
}
