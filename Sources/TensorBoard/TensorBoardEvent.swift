import ProtobufEncoding

/// One `Event` of a TensorBoard event file: a summary (or the file's version) at a step.
///
/// An event file is a sequence of TFRecord records (``TFRecord``), each holding one encoded
/// event; the first says the file's version, ``fileVersion``. Reference:
/// `tensorboard/compat/proto/event.proto` (wall_time 1, step 2, file_version 3, summary 5).
public struct TensorBoardEvent: Sendable, Equatable {
  /// What an event carries.
  public enum Content: Sendable, Equatable {
    /// The version string of the event file's first record.
    case fileVersion(String)
    /// A `Summary` of the given values.
    case summary([SummaryValue])
  }

  /// The version that opens every event file TensorBoard reads today.
  public static let fileVersion = "brain.Event:2"

  /// Seconds since 1970 (TensorBoard's "wall" and "relative" axes).
  public var wallTime: Double
  /// The step (TensorBoard's default horizontal axis).
  public var step: Int64
  /// The version or the summary.
  public var content: Content

  /// An event of `content` at `step`, written at `wallTime`.
  public init(wallTime: Double, step: Int64, content: Content) {
    self.wallTime = wallTime
    self.step = step
    self.content = content
  }

  /// The protobuf encoding of the event, as proto3 writes it: a zero wall time or step is
  /// left out (it reads back as zero).
  public var encoded: [UInt8] {
    var writer = ProtobufWriter()
    if wallTime.bitPattern != 0 { writer.double(1, wallTime) }
    if step != 0 { writer.signed(2, step) }
    switch content {
    case .fileVersion(let version):
      writer.string(3, version)
    case .summary(let values):
      writer.message(5) { summary in
        for value in values { summary.message(1) { value.encode(into: &$0) } }
      }
    }
    return writer.bytes
  }

  /// The event as one record of an event file.
  public var record: [UInt8] { TFRecord.framed(encoded) }
}
