import Foundation

/// The one JSON configuration of every file a run writes: sorted keys (stable, diffable
/// output), unescaped slashes, and non-finite floats as the strings `"NaN"`, `"Infinity"` and
/// `"-Infinity"` (a diverged loss must not make a log line or a checkpoint unwritable).
public enum JSONCoding {
  /// The encoder of run files (`pretty`: indented, as `config.json`).
  public static func encoder(pretty: Bool = false) -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return encoder
  }

  /// The decoder of run files (reads non-finite floats back from their strings).
  public static func decoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return decoder
  }
}
