import Foundation
import Runs
import TensorCore
import XCTest

/// The bytes of a safetensors file with the given header text and data buffer.
private func safetensorsFile(header: String, data: [UInt8] = []) -> Data {
  var file = Data()
  withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
  file.append(contentsOf: header.utf8)
  file.append(contentsOf: data)
  return file
}

/// The raw (little-endian on our hosts) bytes of `values`.
private func rawBytes<T>(_ values: [T]) -> [UInt8] {
  values.withUnsafeBytes { Array($0) }
}

final class SafetensorsTests: XCTestCase {
  let backend = CPUBackend()

  func testRoundTripWithIntegerBatchCounterMetadataAndZeroDimensionalTensors() throws {
    let directory = try makeTemporaryDirectory(self)
    let url = directory.appendingPathComponent("weights.safetensors")
    let tensors: [String: Tensor] = [
      "stem.0.weight": Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 1e-8, -0, 7e30], on: backend),
      "stem.1.num_batches_tracked": Tensor(shape: [], scalars: [1234], on: backend),
      "scale": Tensor(shape: [], scalars: [0.25], on: backend),
      "empty": Tensor(shape: [0, 3], scalars: [], on: backend),
    ]
    try Safetensors.write(tensors, metadata: ["state": "{\"epoch\":3}", "note": "ünïcode"], to: url)

    let contents = try Safetensors.read(from: url)
    XCTAssertEqual(contents.metadata, ["state": "{\"epoch\":3}", "note": "ünïcode"])
    XCTAssertEqual(Set(contents.entries.keys), Set(tensors.keys))
    for (name, tensor) in tensors {
      let entry = try XCTUnwrap(contents.entries[name])
      XCTAssertEqual(entry.shape, tensor.shape, name)
      XCTAssertEqual(entry.scalars, tensor.scalars, name)
    }
    XCTAssertEqual(contents.entries["stem.1.num_batches_tracked"]?.dtype, .i64)
    XCTAssertEqual(contents.entries["scale"]?.dtype, .f32)
    let loaded = contents.tensors(on: backend)
    XCTAssertEqual(loaded["stem.0.weight"]?.shape, [2, 3])
    XCTAssertEqual(loaded["stem.1.num_batches_tracked"]?.scalar, 1234)
  }

  func testEmptyTensorListRoundTrips() throws {
    let bare = try Safetensors.decode(Safetensors.encode([:]), source: "bare")
    XCTAssertTrue(bare.entries.isEmpty)
    XCTAssertTrue(bare.metadata.isEmpty)
    let tagged = try Safetensors.decode(Safetensors.encode([:], metadata: ["k": "v"]), source: "tagged")
    XCTAssertTrue(tagged.entries.isEmpty)
    XCTAssertEqual(tagged.metadata, ["k": "v"])
  }

  func testHeaderLayoutIsLengthPrefixedSortedPaddedAndContiguous() throws {
    let data = Safetensors.encode(
      [
        "b.weight": Tensor(shape: [3], scalars: [1, 2, 3], on: backend),
        "a.bn.num_batches_tracked": Tensor(shape: [], scalars: [5], on: backend),
        "c": Tensor(shape: [1, 2], scalars: [-1, 0.5], on: backend),
      ], metadata: ["format": "x"])
    let bytes = [UInt8](data)
    let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    XCTAssertEqual(headerLength % 8, 0, "data must start 8-byte aligned")
    let headerText = try XCTUnwrap(String(bytes: bytes[8..<(8 + headerLength)], encoding: .utf8))
    XCTAssertTrue(headerText.hasPrefix("{"))
    XCTAssertEqual(headerText.trimmingCharacters(in: .whitespaces).last, "}")

    let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(headerText.utf8)) as? [String: Any])
    let names = ["a.bn.num_batches_tracked", "b.weight", "c"]
    var expectedBegin = 0
    for name in names {
      let entry = try XCTUnwrap(header[name] as? [String: Any], name)
      let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int], name)
      XCTAssertEqual(offsets[0], expectedBegin, "\(name) must follow the previous tensor")
      expectedBegin = offsets[1]
    }
    XCTAssertEqual((header["a.bn.num_batches_tracked"] as? [String: Any])?["dtype"] as? String, "I64")
    XCTAssertEqual((header["a.bn.num_batches_tracked"] as? [String: Any])?["shape"] as? [Int], [])
    XCTAssertEqual((header["b.weight"] as? [String: Any])?["dtype"] as? String, "F32")
    XCTAssertEqual(header["__metadata__"] as? [String: String], ["format": "x"])
    XCTAssertEqual(bytes.count, 8 + headerLength + expectedBegin)

    // Names appear in sorted order in the header text, and the data follows in that order.
    let positions = names.map { headerText.range(of: "\"\($0)\"")!.lowerBound }
    XCTAssertEqual(positions, positions.sorted())
    let buffer = Array(bytes[(8 + headerLength)...])
    XCTAssertEqual(buffer, rawBytes([Int64(5)]) + rawBytes([Float(1), 2, 3]) + rawBytes([Float(-1), 0.5]))
  }

  func testHandBuiltFileWithEveryDTypeDecodes() throws {
    // F16: 1, -2, 0.5, 65504, 2^-24 (smallest subnormal), +inf.
    let f16: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00]
    // BF16: 1, -2.5, 3.140625.
    let bf16: [UInt16] = [0x3F80, 0xC020, 0x4049]
    let i64: [Int64] = [-3, 0, 1 << 40]
    let f64: [Double] = [0.1, -1e10]
    let i32: [Int32] = [7, -8]
    let f32: [Float] = [2.5]
    let data = rawBytes(f64) + rawBytes(f16) + rawBytes(i64) + rawBytes(bf16) + rawBytes(i32) + rawBytes(f32)
    // Offsets are listed out of order on purpose; only their tiling of the buffer matters.
    let header = """
      {"half": {"dtype": "F16", "shape": [2, 3], "data_offsets": [16, 28]},
       "brain": {"dtype": "BF16", "shape": [3], "data_offsets": [52, 58]},
       "double": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
       "long": {"dtype": "I64", "shape": [3, 1], "data_offsets": [28, 52]},
       "int": {"dtype": "I32", "shape": [2], "data_offsets": [58, 66]},
       "float": {"dtype": "F32", "shape": [], "data_offsets": [66, 70]},
       "__metadata__": {"source": "hand-built"}}
      """
    let contents = try Safetensors.decode(safetensorsFile(header: header, data: data), source: "hand-built")
    XCTAssertEqual(contents.metadata, ["source": "hand-built"])
    XCTAssertEqual(contents.entries["half"], SafetensorsEntry(dtype: .f16, shape: [2, 3], scalars: [1, -2, 0.5, 65504, 0x1p-24, .infinity]))
    XCTAssertEqual(contents.entries["brain"], SafetensorsEntry(dtype: .bf16, shape: [3], scalars: [1, -2.5, 3.140625]))
    XCTAssertEqual(contents.entries["double"], SafetensorsEntry(dtype: .f64, shape: [2], scalars: [Float(0.1), -1e10]))
    XCTAssertEqual(contents.entries["long"], SafetensorsEntry(dtype: .i64, shape: [3, 1], scalars: [-3, 0, 1_099_511_627_776]))
    XCTAssertEqual(contents.entries["int"], SafetensorsEntry(dtype: .i32, shape: [2], scalars: [7, -8]))
    XCTAssertEqual(contents.entries["float"], SafetensorsEntry(dtype: .f32, shape: [], scalars: [2.5]))
  }

  func testHalfPrecisionNaNAndNegativeSubnormal() throws {
    let header = #"{"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}"#
    let contents = try Safetensors.decode(safetensorsFile(header: header, data: rawBytes([UInt16(0x7E00), 0x8200])), source: "h")
    let values = try XCTUnwrap(contents.entries["h"]?.scalars)
    XCTAssertTrue(values[0].isNaN)
    XCTAssertEqual(values[1], -0x1p-15)  // 0x200 · 2^-24
  }

  func testEveryCorruptInputGivesAOneLineErrorNamingTheFile() throws {
    let directory = try makeTemporaryDirectory(self)
    let valid = Safetensors.encode(
      ["a": Tensor(shape: [4], scalars: [1, 2, 3, 4], on: backend), "b": Tensor(shape: [2], scalars: [5, 6], on: backend)])
    let headerEnd = valid.count - 24
    let f32x2 = rawBytes([Float(1), 2])

    var cases: [(String, Data, (SafetensorsError.Problem) -> Bool)] = []
    for cut in [0, 3, 8, 8 + (headerEnd - 8) / 2, headerEnd - 1] {
      cases.append(("truncated-header-\(cut)", valid.prefix(cut), { if case .truncatedHeader = $0 { true } else { false } }))
    }
    for cut in [headerEnd, headerEnd + 5, valid.count - 1] {
      cases.append(("truncated-data-\(cut)", valid.prefix(cut), { if case .truncatedData = $0 { true } else { false } }))
    }
    var hugeLength = Data(repeating: 0xFF, count: 8)
    hugeLength.append(contentsOf: "{}".utf8)
    cases += [
      ("huge-length", hugeLength, { if case .truncatedHeader = $0 { true } else { false } }),
      ("bad-json", safetensorsFile(header: "{\"a\": {\"dtype\": "), { if case .invalidHeader = $0 { true } else { false } }),
      ("not-object", safetensorsFile(header: "[1, 2]  "), { if case .invalidHeader = $0 { true } else { false } }),
      ("not-utf8", Data([2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28]), { if case .invalidHeader = $0 { true } else { false } }),
      ("missing-fields", safetensorsFile(header: #"{"a": {"dtype": "F32"}}"#), { if case .invalidHeader = $0 { true } else { false } }),
      ("negative-shape", safetensorsFile(header: #"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}"#),
       { if case .invalidHeader = $0 { true } else { false } }),
      ("bad-metadata", safetensorsFile(header: #"{"__metadata__": {"k": 3}}"#), { if case .invalidHeader = $0 { true } else { false } }),
      ("bad-dtype", safetensorsFile(header: #"{"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}"#, data: f32x2),
       { $0 == .unsupportedDType(tensor: "a", dtype: "C64") }),
      ("offsets-past-end", safetensorsFile(header: #"{"a": {"dtype": "F32", "shape": [256], "data_offsets": [0, 1024]}}"#, data: f32x2),
       { $0 == .truncatedData(needed: 1024, available: 8) }),
      ("offsets-reversed", safetensorsFile(header: #"{"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}"#, data: f32x2),
       { if case .invalidOffsets(tensor: "a", begin: 8, end: 4, _) = $0 { true } else { false } }),
      ("offsets-overlap", safetensorsFile(
        header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#,
        data: f32x2), { if case .invalidOffsets(tensor: "b", _, _, _) = $0 { true } else { false } }),
      ("offsets-gap", safetensorsFile(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, data: f32x2),
       { if case .invalidOffsets(tensor: "a", _, _, _) = $0 { true } else { false } }),
      ("trailing-bytes", safetensorsFile(header: #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: f32x2),
       { if case .invalidOffsets = $0 { true } else { false } }),
      ("size-mismatch", safetensorsFile(header: #"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, data: f32x2),
       { $0 == .sizeMismatch(tensor: "a", shape: [3], dtype: "F32", bytes: 8) }),
      // The element count of [2³², 2³², 2³²] overflows Int: a size mismatch, not a trap.
      ("shape-overflow", safetensorsFile(header: #"{"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]}}"#, data: f32x2),
       { $0 == .sizeMismatch(tensor: "a", shape: [1 << 32, 1 << 32, 1 << 32], dtype: "F32", bytes: 8) }),
      ("element-count-overflow-before-zero", safetensorsFile(
        header: #"{"a": {"dtype": "F32", "shape": [281474976710655, 281474976710655, 0], "data_offsets": [0, 0]}}"#),
       { $0 == .sizeMismatch(tensor: "a", shape: [(1 << 48) - 1, (1 << 48) - 1, 0], dtype: "F32", bytes: 0) }),
      ("byte-count-overflow", safetensorsFile(
        header: #"{"a": {"dtype": "F64", "shape": [4294967296, 536870912], "data_offsets": [0, 8]}}"#, data: f32x2),
       { $0 == .sizeMismatch(tensor: "a", shape: [1 << 32, 1 << 29], dtype: "F64", bytes: 8) }),
      // Batch counters that the writer could not store as I64 again (it trapped re-saving them).
      ("counter-nan", safetensorsFile(
        header: #"{"bn.num_batches_tracked": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}"#, data: rawBytes([Float.nan])),
       { if case .invalidCounter(tensor: "bn.num_batches_tracked", let value) = $0 { value.isNaN } else { false } }),
      ("counter-infinite", safetensorsFile(
        header: #"{"bn.num_batches_tracked": {"dtype": "BF16", "shape": [], "data_offsets": [0, 2]}}"#, data: [0x80, 0xFF]),
       { $0 == .invalidCounter(tensor: "bn.num_batches_tracked", value: -.infinity) }),
      ("counter-above-int64", safetensorsFile(
        header: #"{"bn.num_batches_tracked": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]}}"#, data: rawBytes([Int64.max])),
       { $0 == .invalidCounter(tensor: "bn.num_batches_tracked", value: 0x1p63) }),
      ("counter-below-int64", safetensorsFile(
        header: #"{"bn.num_batches_tracked": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}"#, data: rawBytes([3, -1e19])),
       { $0 == .invalidCounter(tensor: "bn.num_batches_tracked", value: -1e19) }),
    ]
    for (name, bytes, expected) in cases {
      let url = directory.appendingPathComponent("\(name).safetensors")
      try bytes.write(to: url)
      do {
        let contents = try Safetensors.read(from: url)
        XCTFail("\(name): read \(contents.entries.count) tensors from a corrupt file")
      } catch {
        XCTAssertTrue(expected(error.problem), "\(name): unexpected \(error.problem)")
        assertOneLine(error, naming: url.path)
      }
    }
  }

  func testADirectoryIsSaidToBeOne() throws {
    let url = try makeTemporaryDirectory(self)
    XCTAssertThrowsError(try Safetensors.read(from: url)) { error in
      XCTAssertEqual("\(error)", "\(url.path): is a directory, not a file")
    }
  }

  func testEveryBatchCounterThatDecodesEncodesAgain() throws {
    let counters: [(dtype: String, bytes: [UInt8], value: Float)] = [
      ("I64", rawBytes([Int64(1) << 62]), 0x1p62),
      ("I64", rawBytes([Int64.min]), -0x1p63),
      ("F32", rawBytes([Float(2.5)]), 2.5),
      ("F16", [0x00, 0x7B], 57344),
    ]
    for (dtype, bytes, value) in counters {
      let file = safetensorsFile(
        header: #"{"bn.num_batches_tracked": {"dtype": "\#(dtype)", "shape": [], "data_offsets": [0, \#(bytes.count)]}}"#, data: bytes)
      let contents = try Safetensors.decode(file, source: dtype)
      XCTAssertEqual(contents.entries["bn.num_batches_tracked"]?.scalars, [value], dtype)
      let again = try Safetensors.decode(Safetensors.encode(contents.tensors(on: backend)), source: "re-encoded \(dtype)")
      XCTAssertEqual(again.entries["bn.num_batches_tracked"]?.scalars, [value.rounded()], dtype)
      XCTAssertEqual(again.entries["bn.num_batches_tracked"]?.dtype, .i64, dtype)
    }
  }

  func testMissingFile() throws {
    let url = try makeTemporaryDirectory(self).appendingPathComponent("absent.safetensors")
    XCTAssertThrowsError(try Safetensors.read(from: url)) { error in
      XCTAssertEqual((error as? SafetensorsError)?.problem, .missingFile)
      assertOneLine(error, naming: url.path)
    }
  }
}
