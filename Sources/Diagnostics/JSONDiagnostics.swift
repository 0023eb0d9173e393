import Foundation

/// One-line reasons why JSON bytes do not decode as a `Decodable` type, naming the field:
/// "missing key 'batch_size'", "normal.0: expected 2 elements ([operation, input]), found 3",
/// "normal.0.1: 1.5 is not an integer", "is not valid JSON (…)". Foundation's own messages are
/// multi-line dumps ("DecodingError.keyNotFound … Debug description …") or wrong (a number that
/// does not fit its integer field is reported as "not valid JSON").
public enum JSONDiagnostics {
  /// Decodes `data` with `decoder`; errors are one line naming the field at fault.
  public static func decode<Value: Decodable>(
    _ type: Value.Type, from data: Data, using decoder: JSONDecoder = JSONDecoder()
  ) throws(JSONProblem) -> Value {
    do {
      return try decoder.decode(type, from: data)
    } catch {
      throw JSONProblem(describe(error, decoding: type, from: data, using: decoder))
    }
  }

  /// The one-line reason for `error`, thrown while decoding `data` as `type`.
  static func describe<Value: Decodable>(
    _ error: any Error, decoding type: Value.Type, from data: Data, using decoder: JSONDecoder
  ) -> String {
    guard let decodingError = error as? DecodingError else { return oneLine("\(error)") }
    switch decodingError {
    case .keyNotFound(let key, let context):
      return at(context.codingPath, "missing key '\(key.stringValue)'")
    case .typeMismatch(let expected, let context):
      return at(context.codingPath, "expected \(typeName(expected)), \(found(context.debugDescription))")
    case .valueNotFound(let expected, let context):
      return at(context.codingPath, "expected \(typeName(expected)), found null")
    case .dataCorrupted(let context):
      guard context.codingPath.isEmpty, context.debugDescription.contains("not valid JSON") else {
        return at(context.codingPath, oneLine(context.debugDescription))
      }
      guard let tree = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
        return "is not valid JSON" + syntaxLocation(data)
      }
      // Syntactically valid JSON that Foundation still calls invalid: a number that does not
      // fit its field. Find it by replacing the candidates one at a time.
      for (path, number) in numbers(in: tree, path: []) where !fitsInt(number) {
        let patched = replacing(path, in: tree, with: 0)
        guard let bytes = try? JSONSerialization.data(withJSONObject: patched, options: [.fragmentsAllowed]) else { continue }
        do {
          _ = try decoder.decode(type, from: bytes)
        } catch let DecodingError.dataCorrupted(c) where c.codingPath.isEmpty && c.debugDescription.contains("not valid JSON") {
          continue
        } catch {}
        return at(path.map(PathKey.init), "\(format(number)) is not an integer in the range of this field")
      }
      return "holds a number that does not fit its field"
    @unknown default:
      return oneLine("\(decodingError)")
    }
  }

  private struct PathKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ component: Any) {
      if let index = component as? Int { (stringValue, intValue) = ("\(index)", index) } else { (stringValue, intValue) = ("\(component)", nil) }
    }
    init?(stringValue: String) { (self.stringValue, intValue) = (stringValue, nil) }
    init?(intValue: Int) { (stringValue, self.intValue) = ("\(intValue)", intValue) }
  }

  private static func at(_ path: [any CodingKey], _ problem: String) -> String {
    let components = path.map { $0.intValue.map(String.init) ?? $0.stringValue }
    return components.isEmpty ? problem : components.joined(separator: ".") + ": " + problem
  }

  private static func typeName(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type, is Int64.Type, is UInt64.Type, is Int32.Type: return "an integer"
    case is Double.Type, is Float.Type: return "a number"
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    default:
      let name = "\(type)"
      if name.hasPrefix("Array") || name.hasPrefix("[") { return "an array" }
      if name.hasPrefix("Dictionary") { return "an object" }
      return name
    }
  }

  /// "found a string" from Foundation's "Expected to decode Int but found a string instead."
  private static func found(_ debugDescription: String) -> String {
    guard let range = debugDescription.range(of: "found ") else { return oneLine(debugDescription) }
    var rest = String(debugDescription[range.lowerBound...])
    if rest.hasSuffix(" instead.") { rest.removeLast(" instead.".count) }
    return rest
  }

  private static func syntaxLocation(_ data: Data) -> String {
    do {
      _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
      return ""
    } catch {
      let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
      return text.map { " (\(oneLine($0)))" } ?? ""
    }
  }

  private static func numbers(in tree: Any, path: [Any]) -> [([Any], NSNumber)] {
    switch tree {
    case let object as [String: Any]:
      return object.keys.sorted().flatMap { numbers(in: object[$0]!, path: path + [$0]) }
    case let array as [Any]:
      return array.enumerated().flatMap { numbers(in: $1, path: path + [$0]) }
    case let number as NSNumber where String(cString: number.objCType) != "c":
      return [(path, number)]
    default:
      return []
    }
  }

  private static func fitsInt(_ number: NSNumber) -> Bool {
    let value = number.doubleValue
    return value.rounded() == value && abs(value) < 9.2e18
  }

  private static func format(_ number: NSNumber) -> String {
    let value = number.doubleValue
    return abs(value) < 1e15 ? "\(value)" : String(format: "%g", value)
  }

  private static func replacing(_ path: ArraySlice<Any>, in tree: Any, with value: Any) -> Any {
    guard let first = path.first else { return value }
    if var object = tree as? [String: Any], let key = first as? String, let child = object[key] {
      object[key] = replacing(path.dropFirst(), in: child, with: value)
      return object
    }
    if var array = tree as? [Any], let index = first as? Int, array.indices.contains(index) {
      array[index] = replacing(path.dropFirst(), in: array[index], with: value)
      return array
    }
    return tree
  }

  private static func replacing(_ path: [Any], in tree: Any, with value: Any) -> Any {
    replacing(path[...], in: tree, with: value)
  }
}

/// JSON that does not decode; the description is one line (without the file's path, which
/// the caller adds).
public struct JSONProblem: Error, CustomStringConvertible, Equatable, Sendable {
  public let description: String
  public init(_ description: String) { self.description = description }
}
