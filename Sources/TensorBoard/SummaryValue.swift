import ProtobufEncoding

/// One value of a TensorBoard summary: a scalar or a text under a tag.
///
/// TensorBoard groups tags by the part before their first `/` (`step/loss` and `step/lr`
/// share the section `step`). A scalar is stored as `Summary.Value.simple_value` (a
/// `float`), which TensorBoard's scalar dashboard and its `EventAccumulator.Scalars` read; a
/// text as a scalar string tensor with the `text` plugin's metadata, as
/// `tensorboard.summary.text` writes it. Reference: `tensorboard/compat/proto/summary.proto`.
public struct SummaryValue: Sendable, Equatable {
  /// What a value holds.
  public enum Content: Sendable, Equatable {
    /// A number, as TensorBoard keeps it: a 32-bit float.
    case scalar(Float)
    /// A string shown by the text dashboard (as Markdown).
    case text(String)
  }

  /// The tag (name) of the value's chart or text.
  public var tag: String
  /// The value.
  public var content: Content

  /// A value `content` under `tag`.
  public init(tag: String, content: Content) {
    self.tag = tag
    self.content = content
  }

  /// A scalar value.
  public static func scalar(_ tag: String, _ value: Float) -> SummaryValue { SummaryValue(tag: tag, content: .scalar(value)) }

  /// A text value.
  public static func text(_ tag: String, _ value: String) -> SummaryValue { SummaryValue(tag: tag, content: .text(value)) }

  /// Appends the fields of `Summary.Value` (tag 1, simple_value 2, or tensor 8 with metadata
  /// 9) to `writer`.
  func encode(into writer: inout ProtobufWriter) {
    writer.string(1, tag)
    switch content {
    case .scalar(let value):
      writer.float(2, value)
    case .text(let text):
      writer.message(8) { tensor in  // TensorProto
        tensor.unsigned(1, 7)  // dtype: DT_STRING
        tensor.message(2) { _ in }  // tensor_shape: no dimensions, a scalar
        tensor.bytes(8, Array(text.utf8))  // string_val
      }
      writer.message(9) { metadata in  // SummaryMetadata
        metadata.message(1) { plugin in plugin.string(1, "text") }  // plugin_data.plugin_name
      }
    }
  }
}
