import Foundation

/// The JSON header of a safetensors file (tensor entries and `__metadata__`) and its data
/// buffer, for tests that craft hostile files from real ones.
public struct SafetensorsFileParts {
  public var header: [String: Any]
  public var data: Data

  /// Splits the file at `url`.
  public init(contentsOf url: URL) throws {
    let bytes = try Data(contentsOf: url)
    let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    header = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as? [String: Any] ?? [:]
    data = bytes.subdata(in: (8 + length)..<bytes.count)
  }

  /// The `__metadata__` value under `key` parsed as a JSON object (checkpoint state, network
  /// description), or nil.
  public func metadataObject(_ key: String) -> [String: Any]? {
    guard let text = (header["__metadata__"] as? [String: String])?[key] else { return nil }
    return try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
  }

  /// Replaces the `__metadata__` value under `key` with `object` as JSON.
  public mutating func setMetadataObject(_ key: String, _ object: [String: Any]) throws {
    var metadata = header["__metadata__"] as? [String: String] ?? [:]
    metadata[key] = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    header["__metadata__"] = metadata
  }

  /// Writes the (edited) parts back as a safetensors file.
  public func write(to url: URL) throws {
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
    var file = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(json)
    file.append(data)
    try file.write(to: url)
  }
}
