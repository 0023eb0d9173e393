import Foundation
import SearchSpace
import XCTest

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// `GenotypeDrawing`: the SVG is well-formed XML with the nodes and edges of both cells; the DOT
/// lists the same edges.
final class GenotypeDrawingTests: XCTestCase {
  /// Collects the `class`, `id` and `data-*` attributes of every `g` element.
  final class Groups: NSObject, XMLParserDelegate {
    var groups: [[String: String]] = []
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
      if name == "g" { groups.append(attributes) }
    }
  }

  func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> [[String: String]] {
    let parser = XMLParser(data: Data(svg.utf8))
    let groups = Groups()
    parser.delegate = groups
    XCTAssertTrue(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))", file: file, line: line)
    return groups.groups
  }

  func count(_ groups: [[String: String]], cell: String, class kind: String) -> Int {
    groups.filter { $0["class"] == kind && ($0["id"]?.hasPrefix(cell + "-") ?? false) }.count
  }

  func testDARTSV2HasFourNodesAndEightOpEdgesPerCell() throws {
    let svg = GenotypeDrawing(.dartsV2).svg()
    XCTAssert(svg.hasPrefix("<?xml"))
    let groups = parse(svg)
    XCTAssertEqual(groups.filter { $0["class"] == "cell" }.compactMap { $0["id"] }, ["normal", "reduce"])
    for cell in ["normal", "reduce"] {
      XCTAssertEqual(count(groups, cell: cell, class: "node intermediate"), 4, cell)
      XCTAssertEqual(count(groups, cell: cell, class: "node input"), 2, cell)
      XCTAssertEqual(count(groups, cell: cell, class: "node output"), 1, cell)
      XCTAssertEqual(count(groups, cell: cell, class: "edge op"), 8, cell)
    }
    XCTAssertEqual(groups.filter { $0["class"] == "edge concat" }.count, 8)
    // Normal node 5 (drawn as 3) reads skip_connect ← c_{k-2} and dil_conv_3x3 ← node 2.
    let last = groups.filter { $0["id"] == "normal-edge-7" }.first
    XCTAssertEqual(last?["data-op"], "dil_conv_3x3")
    XCTAssertEqual(last?["data-from"], "2")
    XCTAssertEqual(last?["data-to"], "5")
  }

  func testNASNetDrawsFiveNodesAndItsConcat() {
    let groups = parse(GenotypeDrawing(.nasNet).svg())
    XCTAssertEqual(count(groups, cell: "normal", class: "node intermediate"), 5)
    XCTAssertEqual(count(groups, cell: "reduce", class: "edge op"), 10)
    let concat = groups.filter { $0["class"] == "edge concat" }
    XCTAssertEqual(concat.count, 5 + 3, "normal concat 2…6, reduce concat 4…6")
    XCTAssertEqual(concat.suffix(3).compactMap { $0["data-from"] }, ["4", "5", "6"])
    XCTAssertEqual(concat.suffix(3).compactMap { $0["data-to"] }, ["7", "7", "7"])
  }

  func testDOTListsEveryEdge() {
    let dot = GenotypeDrawing(.dartsV2).dot()
    XCTAssert(dot.hasPrefix("digraph genotype {"))
    XCTAssert(dot.contains(#""normal_c_{k-2}" -> "normal_0" [label="sep_conv_3x3"];"#), dot)
    XCTAssert(dot.contains(#""normal_0" -> "normal_3" [label="dil_conv_3x3"];"#), dot)
    XCTAssert(dot.contains(#""reduce_c_{k-1}" -> "reduce_0" [label="max_pool_3x3"];"#), dot)
    XCTAssert(dot.contains(#""reduce_3" -> "reduce_c_{k}" [style=dashed"#), dot)
    XCTAssertEqual(dot.components(separatedBy: "[label=\"").count - 1, 16 + 2 * 7, "16 op edges, 7 node labels per cell")
  }
}
