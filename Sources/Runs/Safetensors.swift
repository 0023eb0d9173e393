import Diagnostics
import Foundation
import TensorCore

#if !_endian(little)
  #error("Safetensors stores little-endian data; this reader/writer assumes a little-endian host.")
#endif

/// Reading and writing the safetensors format (Hugging Face), the format of our checkpoints.
///
/// Layout: an 8-byte little-endian `UInt64` header length `N`; `N` bytes of UTF-8 JSON,
/// `{"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"<key>": "<string>"}}`, padded with spaces so the data starts at a multiple
/// of 8; then the data buffer, each tensor's little-endian elements at `[begin, end)` relative to
/// the buffer start. We write tensors in sorted-name order, contiguously, so the same tensors
/// always give the same bytes.
///
/// Our tensors are all `Float`. They are written as `F32`, except names ending in
/// `num_batches_tracked`, which PyTorch's BatchNorm holds as 0-d `int64` and which are written
/// as `I64` (the float value rounded) so that `torch` loads them with the dtype it expects.
/// Reading accepts `F32`, `F64`, `F16`, `BF16`, `I64` and `I32` and converts to `Float`.
public enum Safetensors {
  /// Suffix of the tensors stored as `I64` (PyTorch's BatchNorm batch counter).
  public static let integerSuffix = "num_batches_tracked"

  /// The serialised bytes of `tensors` and `metadata`.
  public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> Data {
    var data = Data()
    serialize(tensors, metadata: metadata) { data.append(contentsOf: $0) }
    return data
  }

  /// Writes `tensors` and `metadata` to `url` atomically (see ``AtomicFile``), streaming the
  /// tensor storage without an intermediate copy of the whole file.
  public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
    try AtomicFile.write(to: url) { sink in
      var failure: (any Error)?
      serialize(tensors, metadata: metadata) { bytes in
        guard failure == nil else { return }
        do { try sink.write(bytes) } catch { failure = error }
      }
      if let failure { throw failure }
    }
  }

  /// Reads the safetensors file at `url`.
  /// - Throws: ``SafetensorsError`` naming the file if it is missing, unreadable or malformed.
  public static func read(from url: URL) throws(SafetensorsError) -> SafetensorsContents {
    let data: Data
    do {
      data = try readFile(url, options: .mappedIfSafe)
    } catch {
      if !FileManager.default.fileExists(atPath: url.path) {
        throw SafetensorsError(path: url.path, problem: .missingFile)
      }
      throw SafetensorsError(path: url.path, problem: .unreadable(error.problem))
    }
    return try decode(data, source: url.path)
  }

  /// Decodes safetensors bytes; `source` names them in errors (usually the file's path).
  public static func decode(_ data: Data, source: String) throws(SafetensorsError) -> SafetensorsContents {
    func fail(_ problem: SafetensorsError.Problem) -> SafetensorsError {
      SafetensorsError(path: source, problem: problem)
    }
    guard data.count >= 8 else { throw fail(.truncatedHeader(needed: 8, available: data.count)) }
    let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    guard headerLength <= UInt64(data.count - 8) else {
      throw fail(.truncatedHeader(needed: headerLength > UInt64(Int.max - 8) ? Int.max : 8 + Int(headerLength), available: data.count))
    }
    let dataStart = 8 + Int(headerLength)
    let header = try parseHeader(data[8..<dataStart], fail: fail)

    // Every tensor's bytes must match its shape and dtype; together they tile the buffer.
    let bufferSize = data.count - dataStart
    for (name, entry) in header.entries {
      // Overflow-checked: a shape such as [2³², 2³², 2³²] must fail here, not trap.
      let expected = entry.shape.reduce(Optional(entry.dtype.byteCount)) { product, size in
        product.flatMap { let (p, overflow) = $0.multipliedReportingOverflow(by: size); return overflow ? nil : p }
      }
      guard let expected, entry.end - entry.begin == expected else {
        throw fail(.sizeMismatch(tensor: name, shape: entry.shape, dtype: entry.dtype.rawValue, bytes: entry.end - entry.begin))
      }
    }
    var covered = 0
    var previous: String?
    for (name, entry) in header.entries.sorted(by: { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }) {
      guard entry.begin >= covered else {
        throw fail(.invalidOffsets(tensor: name, begin: entry.begin, end: entry.end, detail: "overlaps tensor \(previous.map { $0.debugDescription } ?? "")"))
      }
      guard entry.begin == covered else {
        throw fail(.invalidOffsets(tensor: name, begin: entry.begin, end: entry.end, detail: "leaves a gap of \(entry.begin - covered) bytes before it"))
      }
      covered = entry.end
      previous = name
    }
    guard covered <= bufferSize else { throw fail(.truncatedData(needed: covered, available: bufferSize)) }
    guard covered == bufferSize else {
      throw fail(.invalidOffsets(tensor: previous ?? "", begin: covered, end: bufferSize, detail: "the last \(bufferSize - covered) bytes of the data belong to no tensor"))
    }

    var entries: [String: SafetensorsEntry] = [:]
    data.withUnsafeBytes { raw in
      for (name, entry) in header.entries {
        let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)])
        entries[name] = SafetensorsEntry(dtype: entry.dtype, shape: entry.shape, scalars: entry.dtype.floats(from: bytes))
      }
    }
    // A batch counter is written back as I64: it must be a number that can be.
    for (name, entry) in entries where name.hasSuffix(integerSuffix) {
      if let value = entry.scalars.first(where: { Int64(exactly: $0.rounded()) == nil }) {
        throw fail(.invalidCounter(tensor: name, value: value))
      }
    }
    return SafetensorsContents(entries: entries, metadata: header.metadata)
  }

  // MARK: Private

  private struct HeaderEntry {
    var dtype: SafetensorsDType
    var shape: [Int]
    var begin: Int
    var end: Int
  }

  private static func parseHeader(
    _ bytes: Data, fail: (SafetensorsError.Problem) -> SafetensorsError
  ) throws(SafetensorsError) -> (entries: [String: HeaderEntry], metadata: [String: String]) {
    guard let text = String(data: bytes, encoding: .utf8) else { throw fail(.invalidHeader("header is not UTF-8")) }
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    } catch {
      throw fail(.invalidHeader("header is not valid JSON"))
    }
    guard let root = object as? [String: Any] else { throw fail(.invalidHeader("header is not a JSON object")) }
    var metadata: [String: String] = [:]
    var entries: [String: HeaderEntry] = [:]
    for (name, value) in root {
      if name == "__metadata__" {
        guard let strings = value as? [String: String] else {
          throw fail(.invalidHeader("__metadata__ must map strings to strings"))
        }
        metadata = strings
        continue
      }
      guard let fields = value as? [String: Any], let dtypeName = fields["dtype"] as? String,
        let shape = integers(fields["shape"]), let offsets = integers(fields["data_offsets"]),
        offsets.count == 2
      else {
        throw fail(.invalidHeader("entry \(name.debugDescription) needs dtype, shape and data_offsets [begin, end]"))
      }
      guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
        throw fail(.unsupportedDType(tensor: name, dtype: dtypeName))
      }
      guard offsets[0] <= offsets[1] else {
        throw fail(.invalidOffsets(tensor: name, begin: offsets[0], end: offsets[1], detail: "begin is after end"))
      }
      entries[name] = HeaderEntry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }
    return (entries, metadata)
  }

  /// A JSON array of non-negative integers (small enough that products cannot overflow).
  private static func integers(_ value: Any?) -> [Int]? {
    guard let numbers = value as? [NSNumber] else { return nil }
    var result: [Int] = []
    for number in numbers {
      guard let int = Int(exactly: number.doubleValue), int >= 0, int < 1 << 48 else { return nil }
      result.append(int)
    }
    return result
  }

  /// The one serialiser behind ``encode(_:metadata:)`` and ``write(_:metadata:to:)``: hands the
  /// file's bytes, in order, to `emit`.
  private static func serialize(
    _ tensors: [String: Tensor], metadata: [String: String], emit: (UnsafeRawBufferPointer) -> Void
  ) {
    precondition(tensors["__metadata__"] == nil, "__metadata__ is reserved in safetensors")
    let names = tensors.keys.sorted()
    var header: [String: Any] = [:]
    var offset = 0
    for name in names {
      let tensor = tensors[name]!
      let dtype = dtype(forName: name)
      let size = tensor.count * dtype.byteCount
      header[name] = ["dtype": dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, offset + size]]
      offset += size
    }
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    // Sorted keys and no insignificant whitespace: the bytes depend only on the contents.
    var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
    json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { emit($0) }
    json.withUnsafeBytes { emit($0) }
    for name in names {
      let tensor = tensors[name]!
      if dtype(forName: name) == .i64 {
        tensor.scalars.map { Int64($0.rounded()).littleEndian }.withUnsafeBytes { emit($0) }
      } else {
        tensor.withHostBytes { emit($0) }
      }
    }
  }

  private static func dtype(forName name: String) -> SafetensorsDType {
    name.hasSuffix(integerSuffix) ? .i64 : .f32
  }
}

/// The element types this reader understands (safetensors dtype names).
public enum SafetensorsDType: String, Sendable, CaseIterable {
  case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32"

  /// Bytes per element.
  public var byteCount: Int {
    switch self {
    case .f16, .bf16: return 2
    case .f32, .i32: return 4
    case .f64, .i64: return 8
    }
  }

  /// Converts little-endian elements of this type to `Float`.
  func floats(from bytes: UnsafeRawBufferPointer) -> [Float] {
    let count = bytes.count / byteCount
    func load<T>(_: T.Type, _ convert: (T) -> Float) -> [Float] {
      (0..<count).map { convert(bytes.loadUnaligned(fromByteOffset: $0 * byteCount, as: T.self)) }
    }
    switch self {
    case .f32: return load(Float.self) { $0 }
    case .f64: return load(Double.self) { Float($0) }
    case .i64: return load(Int64.self) { Float($0) }
    case .i32: return load(Int32.self) { Float($0) }
    case .bf16: return load(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
    case .f16: return load(UInt16.self, SafetensorsDType.halfToFloat)
    }
  }

  /// IEEE 754 binary16 → binary32, exact (no `Float16`: it is missing on macOS/x86-64).
  static func halfToFloat(_ half: UInt16) -> Float {
    let sign: Float = half & 0x8000 == 0 ? 1 : -1
    let exponent = Int(half >> 10) & 0x1F
    let mantissa = UInt32(half & 0x3FF)
    switch exponent {
    case 0:  // zero or subnormal: mantissa · 2^-24
      return sign * Float(mantissa) * 0x1p-24
    case 31:  // infinity or NaN
      return Float(bitPattern: UInt32(half & 0x8000) << 16 | 0x7F80_0000 | mantissa << 13)
    default:
      return Float(bitPattern: UInt32(half & 0x8000) << 16 | UInt32(exponent + 112) << 23 | mantissa << 13)
    }
  }
}

/// One tensor read from a safetensors file, converted to `Float`.
public struct SafetensorsEntry: Sendable, Equatable {
  /// The element type stored in the file.
  public var dtype: SafetensorsDType
  /// The tensor's shape (`[]` for a 0-d tensor).
  public var shape: [Int]
  /// The elements in row-major order.
  public var scalars: [Float]

  /// An entry of `dtype` holding `scalars` with `shape`.
  public init(dtype: SafetensorsDType, shape: [Int], scalars: [Float]) {
    self.dtype = dtype
    self.shape = shape
    self.scalars = scalars
  }
}

/// The tensors and metadata of a safetensors file.
public struct SafetensorsContents: Sendable {
  /// Tensors by name.
  public var entries: [String: SafetensorsEntry]
  /// The `__metadata__` string map (empty if the file has none).
  public var metadata: [String: String]

  /// The tensors on `backend`, by name.
  public func tensors(on backend: any Backend) -> [String: Tensor] {
    entries.mapValues { Tensor(shape: $0.shape, scalars: $0.scalars, on: backend) }
  }
}

/// A safetensors file that cannot be read; its description is one line naming the file.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What is wrong with the file.
  public enum Problem: Equatable, Sendable {
    /// No file at the path.
    case missingFile
    /// The file exists but could not be read.
    case unreadable(String)
    /// The file ends inside the length prefix or the JSON header.
    case truncatedHeader(needed: Int, available: Int)
    /// The data buffer is shorter than the tensors the header lists.
    case truncatedData(needed: Int, available: Int)
    /// The header is not UTF-8 JSON of the expected structure.
    case invalidHeader(String)
    /// A tensor's dtype is not one of ``SafetensorsDType``.
    case unsupportedDType(tensor: String, dtype: String)
    /// A tensor's `data_offsets` are reversed, overlap another tensor or leave a gap.
    case invalidOffsets(tensor: String, begin: Int, end: Int, detail: String)
    /// A tensor's byte count disagrees with its shape and dtype.
    case sizeMismatch(tensor: String, shape: [Int], dtype: String, bytes: Int)
    /// A ``Safetensors/integerSuffix`` tensor holds a value that is not finite or, rounded,
    /// outside `Int64` (it could not be written back as `I64`).
    case invalidCounter(tensor: String, value: Float)
  }

  /// The file (or other source) that failed.
  public let path: String
  /// What is wrong with it.
  public let problem: Problem

  public var description: String {
    let detail: String
    switch problem {
    case .missingFile:
      return "\(path): no such file"
    case .unreadable(let reason):
      return oneLine("\(path): \(reason)")
    case .truncatedHeader(let needed, let available):
      detail = "truncated header: needs \(needed) bytes, the file has \(available)"
    case .truncatedData(let needed, let available):
      detail = "truncated data: the tensors need \(needed) bytes after the header, the file has \(available)"
    case .invalidHeader(let reason):
      detail = "invalid header: \(reason)"
    case .unsupportedDType(let tensor, let dtype):
      detail = "tensor \(tensor.debugDescription) has unsupported dtype \(dtype.debugDescription)"
    case .invalidOffsets(let tensor, let begin, let end, let reason):
      detail = "tensor \(tensor.debugDescription) has data_offsets [\(begin), \(end)] out of range: \(reason)"
    case .sizeMismatch(let tensor, let shape, let dtype, let bytes):
      detail = "tensor \(tensor.debugDescription) of shape \(shape) and dtype \(dtype) cannot occupy \(bytes) bytes"
    case .invalidCounter(let tensor, let value):
      detail = "batch counter \(tensor.debugDescription) holds \(value), not a whole number within Int64"
    }
    return oneLine("\(path): not a valid safetensors file: \(detail)")
  }
}
