import Datasets
import Evaluation
import Foundation
import Runs
import Search
import SearchSpace
import TensorCore
import _TestSupport

/// Writes the seed corpus `Fuzz/Corpus/<target>/` from the package's own writers: a few small
/// valid inputs per target and a near-valid variant or two. Run it from the repository root
/// (`Fuzz/.build/release/FuzzCorpus Fuzz/Corpus`) after a format changes; the fuzz runs work on
/// copies and never add to it.
@main enum FuzzCorpus {
  static func main() throws {
    let root = URL(fileURLWithPath: CommandLine.arguments.dropFirst().first ?? "Fuzz/Corpus", isDirectory: true)
    let seeds: [(target: String, files: [(name: String, bytes: Data)])] = [
      ("FuzzSafetensors", try safetensors()),
      ("FuzzConfig", try configs()),
      ("FuzzGenotype", try genotypes()),
      ("FuzzIDX", try idx()),
      ("FuzzCIFAR", cifar()),
      ("FuzzImage", images()),
    ]
    for (target, files) in seeds {
      let directory = root.appendingPathComponent(target, isDirectory: true)
      try? FileManager.default.removeItem(at: directory)
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      for (name, bytes) in files { try bytes.write(to: directory.appendingPathComponent(name)) }
      print("\(directory.path): \(files.count) files, \(files.map(\.bytes.count).reduce(0, +)) bytes")
    }
  }

  static let backend = CPUBackend()

  static func safetensors() throws -> [(String, Data)] {
    let tensors = [
      "cells.0.weight": Tensor(shape: [2, 3], scalars: [1, -2, 0.5, .infinity, 0, 3], on: backend),
      "stem.1.num_batches_tracked": Tensor(shape: [], scalars: [7], on: backend),
      "empty": Tensor(shape: [0, 4], scalars: [], on: backend),
    ]
    let checkpoint = try checkpointBytes(
      tensors: ["alphas_normal": Tensor(shape: [2, 2], scalars: [0.1, 0.2, 0.3, 0.4], on: backend)],
      state: SearchSettings.demo())
    let plain = Safetensors.encode(tensors, metadata: ["note": "seed"])
    return [
      ("plain.safetensors", plain),
      ("checkpoint.safetensors", checkpoint),
      ("metadata-only.safetensors", Safetensors.encode([:], metadata: ["format": "pt"])),
      ("dtypes.safetensors", dtypes()),
      ("truncated.safetensors", plain.prefix(plain.count - 5)),
    ]
  }

  /// One tensor of every dtype the reader converts, in a header written by hand.
  static func dtypes() -> Data {
    var body = Data()
    var fields: [String] = []
    for (name, dtype) in [("a", "F64"), ("b", "F16"), ("c", "BF16"), ("d", "I32"), ("e", "I64"), ("f", "F32")] {
      let size = 2 * SafetensorsDType(rawValue: dtype)!.byteCount
      fields.append("\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[2],\"data_offsets\":[\(body.count),\(body.count + size)]}")
      body.append(contentsOf: (0..<size).map { UInt8(truncatingIfNeeded: $0 * 37 + 60) })
    }
    var header = Data("{\(fields.joined(separator: ","))}".utf8)
    header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
    return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Data($0) } + header + body
  }

  /// A checkpoint file as ``Checkpoint/save(to:)`` writes it.
  static func checkpointBytes(tensors: [String: Tensor], state: some Codable) throws -> Data {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("FuzzCorpus-\(getpid()).safetensors")
    defer { try? FileManager.default.removeItem(at: file) }
    try Checkpoint(tensors: tensors, state: state).save(to: file)
    return try Data(contentsOf: file)
  }

  /// `config.json` as a run writes it.
  static func configs() throws -> [(String, Data)] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("FuzzCorpus-\(getpid())", isDirectory: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let run = try RunDirectory.create(at: directory)
    func config(_ value: some Encodable) throws -> Data {
      try run.write(value, to: .config)
      return try Data(contentsOf: run.url(of: .config))
    }
    let search = try config(SearchSettings.demo())
    return [
      ("search-demo.json", search),
      ("search-pdarts.json", try config(SearchSettings.demo(for: .pDarts))),
      ("search-pcdarts.json", try config(SearchSettings.reference(for: .pcDarts))),
      ("train-demo.json", try config(TrainSettings.preset(.demo))),
      ("search-negative-layers.json", Data(String(decoding: search, as: UTF8.self).replacingOccurrences(of: "\"layers\" : ", with: "\"layers\" : -").utf8)),
    ]
  }

  static func genotypes() throws -> [(String, Data)] {
    let json = try Genotype.dartsV2.jsonData()
    return [
      ("darts-v2.json", json),
      ("pc-darts.json", try Genotype.pcDartsCIFAR.jsonData()),
      ("three-element-pair.json", Data(String(decoding: json, as: UTF8.self).replacingOccurrences(of: "0\n    ]", with: "0, 1\n    ]").utf8)),
    ]
  }

  /// Inputs of `FuzzIDX`: a control byte (bit 0 images gzipped, bit 1 labels gzipped, bit 2 the
  /// test pair), the images file's length (4 bytes, big-endian), the images file, the labels file.
  static func idx() throws -> [(String, Data)] {
    func header(magic: UInt32, _ dimensions: [UInt32]) -> [UInt8] {
      ([magic] + dimensions).flatMap { word in stride(from: 24, through: 0, by: -8).map { UInt8(truncatingIfNeeded: word >> UInt32($0)) } }
    }
    let images = Data(header(magic: 0x803, [2, 28, 28]) + (0..<(2 * 28 * 28)).map { UInt8(truncatingIfNeeded: $0) })
    let labels = Data(header(magic: 0x801, [2]) + [3, 9])
    func input(_ control: UInt8, _ images: Data, _ labels: Data) -> Data {
      Data([control] + header(magic: UInt32(images.count), [])) + images + labels
    }
    return [
      ("raw.idx", input(0, images, labels)),
      ("images-gz.idx", input(1, try gzip(images), labels)),
      ("both-gz-test.idx", input(7, try gzip(images), try gzip(labels))),
      ("label-count-mismatch.idx", input(4, images, Data(header(magic: 0x801, [3]) + [1, 2, 3]))),
    ]
  }

  /// `gzip -n` of `bytes` (the package reads gzip but does not write it).
  static func gzip(_ bytes: Data) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "gzip -9n"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(bytes)
    try input.fileHandleForWriting.close()
    let compressed = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    return compressed
  }

  /// Inputs of `FuzzCIFAR`: a control byte (bit 0 CIFAR-100, bits 1–2 the records expected),
  /// then two records.
  static func cifar() -> [(String, Data)] {
    func records(labelBytes: [[UInt8]]) -> Data {
      Data(labelBytes.enumerated().flatMap { index, label in label + (0..<3072).map { UInt8(truncatingIfNeeded: $0 * (index + 1)) } })
    }
    return [
      ("cifar10-2.bin", Data([2 << 1]) + records(labelBytes: [[6], [9]])),
      ("cifar100-2.bin", Data([2 << 1 | 1]) + records(labelBytes: [[4, 30], [1, 99]])),
    ]
  }

  static func images() -> [(String, Data)] {
    func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 * 29) } }
    let rgbPNG = encodePNG(pattern(6 * 5 * 3), width: 6, height: 5, kind: .rgb)
    let rgbJPEG = encodeJPEG(pattern(8 * 8 * 3), width: 8, height: 8)
    return [
      ("rgb.png", rgbPNG),
      ("gray.png", encodePNG(pattern(4 * 4), width: 4, height: 4, kind: .gray)),
      ("rgba.png", encodePNG(pattern(3 * 2 * 4), width: 3, height: 2, kind: .rgba)),
      ("palette.png", encodePNG(pattern(4 * 3).map { $0 % 2 }, width: 4, height: 3, kind: .palette, palette: [255, 0, 0, 0, 0, 255])),
      ("rgb.jpg", rgbJPEG),
      ("gray.jpg", encodeJPEG(pattern(8 * 8), width: 8, height: 8, components: 1)),
      ("cmyk.jpg", encodeJPEG(pattern(8 * 8 * 4), width: 8, height: 8, components: 4)),
      ("truncated.png", rgbPNG.prefix(rgbPNG.count - 12)),
      ("truncated.jpg", rgbJPEG.prefix(rgbJPEG.count / 2)),
    ]
  }
}
