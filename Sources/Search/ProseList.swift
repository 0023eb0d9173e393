extension Sequence<String> {
  /// The strings as a list in prose, for help text and errors: "a", "a or b", "a, b or c"
  /// (`conjunction` "or"; "" for none).
  public func listed(_ conjunction: String = "or") -> String {
    let items = Array(self)
    guard let last = items.last, items.count > 1 else { return items.first ?? "" }
    return items.dropLast().joined(separator: ", ") + " \(conjunction) " + last
  }
}
