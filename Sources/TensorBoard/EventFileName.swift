/// The names TensorBoard looks for: a directory's event files are those whose name contains
/// `tfevents`, conventionally `events.out.tfevents.<unix seconds>.<host name>`, read in the
/// order of their names.
public enum EventFileName {
  /// The common start of the names of event files.
  public static let prefix = "events.out.tfevents."

  /// The conventional name of an event file created at `wallTime` on `host`.
  public static func make(wallTime: Double, host: String) -> String {
    prefix + "\(Int64(wallTime.rounded(.down))).\(host)"
  }

  /// Whether `name` is that of an event file of this convention.
  public static func matches(_ name: String) -> Bool { name.hasPrefix(prefix) }
}
