import Foundation
import TensorCore
import XCTest

/// A golden-value file written by `Scripts/fixtures` (see its README for the schemas).
public struct Fixture {
  public let root: [String: Any]

  /// Loads `Fixtures/<name>.json` from `bundle` (a test target's `Bundle.module`).
  public init(_ name: String, in bundle: Bundle, file: StaticString = #filePath, line: UInt = #line) throws {
    let url = try XCTUnwrap(
      bundle.url(forResource: name, withExtension: "json", subdirectory: "Fixtures")
        ?? bundle.url(forResource: name, withExtension: "json"),
      "fixture \(name).json missing", file: file, line: line)
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    root = try XCTUnwrap(object as? [String: Any], "fixture \(name).json is not an object", file: file, line: line)
  }
}

/// Accessors for the fixture encoding (`{"shape": [...], "data": [...]}` tensors).
extension Dictionary where Key == String, Value == Any {
  /// The tensor stored under `key`.
  public func tensor(_ key: String, on backend: any Backend) -> Tensor {
    let entry = self[key] as! [String: Any]
    return Tensor(shape: entry.shape, scalars: entry.floats("data"), on: backend)
  }

  /// The shape of a tensor entry.
  public var shape: [Int] { (self["shape"] as! [NSNumber]).map(\.intValue) }

  /// The numbers stored under `key` as floats.
  public func floats(_ key: String) -> [Float] { (self[key] as! [NSNumber]).map(\.floatValue) }

  /// The numbers stored under `key` as integers.
  public func ints(_ key: String) -> [Int] { (self[key] as! [NSNumber]).map(\.intValue) }

  /// The number stored under `key`.
  public func number(_ key: String) -> Double { (self[key] as! NSNumber).doubleValue }

  /// The array of objects stored under `key`.
  public func objects(_ key: String) -> [[String: Any]] { self[key] as! [[String: Any]] }

  /// The object stored under `key`.
  public func object(_ key: String) -> [String: Any] { self[key] as! [String: Any] }
}
