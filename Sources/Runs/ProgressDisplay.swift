import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Progress of a loop on standard output: a live bar on a terminal, plain lines in a log file.
///
/// On a terminal, ``update(_:metrics:)`` redraws one line in place (carriage return plus the
/// ANSI "clear line" sequence), at most once per `minimumRedrawInterval` so that calling it
/// every step costs next to nothing:
///
///     epoch 3  [#######.............]  120/391  31%  00:42<01:35  loss=1.234 acc=0.5612
///
/// When standard output is not a terminal (a pipe, a file, CI), ``update(_:metrics:)`` prints
/// nothing and each ``log(_:metrics:)`` prints one plain line without control characters:
///
///     epoch 3 120/391 (31%) elapsed 00:42 eta 01:35 loss=1.234 acc=0.5612
///
/// Typical use: `update` every step, `log` every N steps and at the end of the loop, then
/// `finish`. Not thread-safe: drive one display from one thread.
public final class ProgressDisplay {
  /// Named values shown after the counters, in order (`[("loss", 1.23), ("acc", 0.56)]`).
  public typealias Metrics = [(name: String, value: Double)]

  /// Shown first on every line.
  public let label: String
  /// The count at which the loop is complete.
  public let total: Int
  /// True to draw a live bar, false to print plain lines.
  public let isTerminal: Bool

  private let minimumRedrawInterval: Duration
  private let output: (String) -> Void
  private let clock = ContinuousClock()
  private let start: ContinuousClock.Instant
  private var lastDraw: ContinuousClock.Instant?
  private var barShown = false
  private var current = 0
  private var metrics: Metrics = []

  /// A display for a loop of `total` steps, timed from now.
  ///
  /// - Parameters:
  ///   - label: Shown first on every line ("search epoch 3").
  ///   - total: The count at which the loop is complete.
  ///   - isTerminal: Live bar or plain lines; by default, whether standard output is a terminal.
  ///   - minimumRedrawInterval: The shortest time between two redraws of the bar (default
  ///     100 ms, about 10 redraws per second).
  ///   - output: Receives the text to print; by default it is written to standard output
  ///     unbuffered.
  public init(
    label: String, total: Int, isTerminal: Bool = ProgressDisplay.standardOutputIsTerminal,
    minimumRedrawInterval: Duration = .milliseconds(100),
    output: @escaping (String) -> Void = ProgressDisplay.writeToStandardOutput
  ) {
    self.label = label
    self.total = total
    self.isTerminal = isTerminal
    self.minimumRedrawInterval = minimumRedrawInterval
    self.output = output
    start = clock.now
  }

  /// True if standard output is a terminal that understands ANSI sequences (`TERM` is not `dumb`).
  public static var standardOutputIsTerminal: Bool {
    isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
  }

  /// Writes `text` to standard output without buffering.
  public static func writeToStandardOutput(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  /// Records progress; on a terminal, redraws the bar unless it was drawn very recently (the
  /// last step is always drawn).
  public func update(_ current: Int, metrics: Metrics = []) {
    record(current, metrics)
    guard isTerminal else { return }
    let now = clock.now
    if let lastDraw, now - lastDraw < minimumRedrawInterval, current < total { return }
    draw(at: now)
  }

  /// Records progress and reports it now: one plain line, or on a terminal an immediate redraw.
  public func log(_ current: Int, metrics: Metrics = []) {
    record(current, metrics)
    if isTerminal {
      draw(at: clock.now)
    } else {
      output(text(at: clock.now, bar: false) + "\n")
    }
  }

  /// Prints a line of text; on a terminal it goes above the bar, which is redrawn below it.
  public func message(_ line: String) {
    guard isTerminal, barShown else {
      output(line + "\n")
      return
    }
    output("\r\u{1B}[2K" + line + "\n")
    draw(at: clock.now)
  }

  /// Ends the display; on a terminal the final bar stays on screen and the cursor moves to the
  /// next line. Plain output needs no ending.
  public func finish() {
    guard isTerminal, barShown else { return }
    draw(at: clock.now)
    output("\n")
    barShown = false
  }

  private func record(_ current: Int, _ metrics: Metrics) {
    self.current = current
    if !metrics.isEmpty { self.metrics = metrics }
  }

  private func draw(at now: ContinuousClock.Instant) {
    output("\r\u{1B}[2K" + text(at: now, bar: true))
    lastDraw = now
    barShown = true
  }

  /// The progress text; with `bar`, the terminal layout with a 20-cell bar.
  private func text(at now: ContinuousClock.Instant, bar: Bool) -> String {
    let fraction = total > 0 ? min(max(Double(current) / Double(total), 0), 1) : 1
    let percent = Int((fraction * 100).rounded(.down))
    let elapsed = (now - start) / .seconds(1)
    let remaining = current > 0 ? elapsed * Double(max(total - current, 0)) / Double(current) : nil
    let values = metrics.map { "\($0.name)=\(String(format: "%.4g", $0.value))" }.joined(separator: " ")
    var parts: [String]
    if bar {
      let cells = Int((fraction * 20).rounded(.down))
      parts = [
        label, "[" + String(repeating: "#", count: cells) + String(repeating: ".", count: 20 - cells) + "]",
        "\(current)/\(total)", "\(percent)%", "\(clockTime(elapsed))<\(remaining.map(clockTime) ?? "--:--")",
      ]
    } else {
      parts = [
        label, "\(current)/\(total)", "(\(percent)%)", "elapsed", clockTime(elapsed),
        "eta", remaining.map(clockTime) ?? "--:--",
      ]
    }
    if !values.isEmpty { parts.append(values) }
    return parts.joined(separator: bar ? "  " : " ")
  }

  /// `mm:ss`, or `h:mm:ss` from one hour on.
  private func clockTime(_ seconds: Double) -> String {
    let whole = Int(seconds.rounded(.down))
    let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60)
    let mmss = String(format: "%02d:%02d", minutes, secs)
    return hours > 0 ? "\(hours):\(mmss)" : mmss
  }
}
