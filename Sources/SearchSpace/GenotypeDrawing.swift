import Foundation

/// Pictures of a genotype's two cells (SPEC §3.1): the inputs c_{k−2} and c_{k−1}, the
/// intermediate nodes 0…n−1 (genotype nodes 2…n+1), the output c_{k}, one labelled edge per
/// genotype pair and one unlabelled edge per concatenated node into the output.
///
/// `svg()` lays the graph out itself (no Graphviz needed): inputs in the first column, one
/// column per intermediate node on a middle row, the output in the last column. Edges from
/// c_{k−2} come from above and edges from c_{k−1} from below as straight lines; edges between
/// intermediate nodes arc over the row, concat edges under it; a pair repeated (NASNet's two
/// `avg_pool_3x3 ← 0`) bends further. Operation names sit on a white box at the middle of
/// their edge, or further along it where another label or a node is in the way. `dot()` is
/// the same graph for Graphviz (`dot -Tpng`).
///
/// Element classes of the SVG, for styling and tests: `cell` (one `g` per cell, id `normal` or
/// `reduce`), `node input`, `node intermediate`, `node output` (ids `normal-node-2`, …),
/// `edge op` (with `data-op` and `data-from`/`data-to` node numbers) and `edge concat`.
public struct GenotypeDrawing: Sendable {
  public let genotype: Genotype

  public init(_ genotype: Genotype) { self.genotype = genotype }

  /// One cell as a graph: node numbers are the genotype's (0, 1 inputs; 2… intermediate),
  /// and the output node is `outputNode`.
  struct CellGraph {
    let name: String
    let title: String
    let edges: [Genotype.Edge]
    let concat: [Int]
    var intermediateCount: Int { edges.count / 2 }
    var outputNode: Int { 2 + intermediateCount }

    func label(_ node: Int) -> String {
      switch node {
      case 0: "c_{k-2}"
      case 1: "c_{k-1}"
      case outputNode: "c_{k}"
      default: "\(node - 2)"
      }
    }

    func kind(_ node: Int) -> String { node < 2 ? "input" : node == outputNode ? "output" : "intermediate" }

    /// (source, target, operation) of every genotype pair, in genotype order.
    var opEdges: [(from: Int, to: Int, op: String)] {
      edges.enumerated().map { (i, e) in (e.input, 2 + i / 2, e.operation.name) }
    }
  }

  var cells: [CellGraph] {
    [
      CellGraph(name: "normal", title: "normal cell", edges: genotype.normal, concat: genotype.normalConcat),
      CellGraph(name: "reduce", title: "reduction cell", edges: genotype.reduce, concat: genotype.reduceConcat),
    ]
  }

  // MARK: Graphviz

  /// Graphviz DOT: one cluster per cell, left to right.
  public func dot() -> String {
    var lines = ["digraph genotype {", "  rankdir=LR;", "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];", "  edge [fontname=\"Helvetica\", fontsize=11];"]
    let fill = ["input": "lightblue", "intermediate": "lightgray", "output": "palegreen"]
    for cell in cells {
      lines.append("  subgraph cluster_\(cell.name) {")
      lines.append("    label=\(dotString(cell.title));")
      for node in 0...cell.outputNode {
        lines.append("    \(dotString("\(cell.name)_\(cell.label(node))")) [label=\(dotString(cell.label(node))), fillcolor=\(fill[cell.kind(node)]!)];")
      }
      for e in cell.opEdges {
        lines.append("    \(dotString("\(cell.name)_\(cell.label(e.from))")) -> \(dotString("\(cell.name)_\(cell.label(e.to))")) [label=\(dotString(e.op))];")
      }
      for node in cell.concat {
        lines.append("    \(dotString("\(cell.name)_\(cell.label(node))")) -> \(dotString("\(cell.name)_\(cell.label(cell.outputNode))")) [style=dashed, color=gray40];")
      }
      lines.append("  }")
    }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }

  private func dotString(_ s: String) -> String {
    "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
  }

  // MARK: SVG

  /// Geometry of the SVG layout, in pixels.
  private enum Layout {
    static let column = 190.0
    static let margin = 40.0
    static let nodeWidth = 70.0
    static let nodeHeight = 34.0
    static let inputOffset = 150.0  // vertical distance of the inputs from the middle row
    static let panelHeight = 460.0
    static let title = 36.0
    static let characterWidth = 7.0  // at font-size 12, for label boxes
  }

  private struct Point {
    var x: Double, y: Double
  }

  /// A self-contained SVG of both cells, one above the other.
  public func svg() -> String {
    let columns = cells.map { Double($0.intermediateCount + 2) }.max() ?? 2
    let width = 2 * Layout.margin + (columns - 1) * Layout.column + Layout.nodeWidth
    let height = Double(cells.count) * Layout.panelHeight
    var out = [
      ##"<?xml version="1.0" encoding="UTF-8"?>"##,
      ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(format(width))" height="\##(format(height))" viewBox="0 0 \##(format(width)) \##(format(height))" font-family="Helvetica, Arial, sans-serif">"##,
      "<defs>",
      ##"<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker>"##,
      ##"<marker id="arrow-concat" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#999"/></marker>"##,
      "</defs>",
      ##"<rect width="100%" height="100%" fill="white"/>"##,
    ]
    for (i, cell) in cells.enumerated() {
      out += svgCell(cell, top: Double(i) * Layout.panelHeight)
    }
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }

  private func position(_ node: Int, in cell: CellGraph, top: Double) -> Point {
    let middle = top + Layout.title + (Layout.panelHeight - Layout.title) / 2
    let x0 = Layout.margin + Layout.nodeWidth / 2
    switch node {
    case 0: return Point(x: x0, y: middle - Layout.inputOffset)
    case 1: return Point(x: x0, y: middle + Layout.inputOffset)
    default: return Point(x: x0 + Double(node - 1) * Layout.column, y: middle)
    }
  }

  private func svgCell(_ cell: CellGraph, top: Double) -> [String] {
    var out = [##"<g class="cell" id="\##(escape(cell.name))">"##]
    out.append(##"<text x="\##(format(Layout.margin))" y="\##(format(top + 26))" font-size="18" font-weight="bold" fill="#222">\##(escape(cell.title))</text>"##)
    // Edges first, so nodes and labels are drawn over them.
    var seen: [String: Int] = [:]
    var labels: [String] = []
    // Label boxes must not cover nodes or each other: each label takes the first free spot
    // along its edge, starting at the middle.
    var taken = (0...cell.outputNode).map { node -> Box in
      let p = position(node, in: cell, top: top)
      return Box(centre: p, width: Layout.nodeWidth + 6, height: Layout.nodeHeight + 6)
    }
    for (i, e) in cell.opEdges.enumerated() {
      let key = "\(e.from)-\(e.to)"
      let repeatIndex = seen[key, default: 0]
      seen[key] = repeatIndex + 1
      let (from, to) = (position(e.from, in: cell, top: top), position(e.to, in: cell, top: top))
      // Inputs: straight; intermediate to intermediate: an arc above the row growing with the span.
      var bend = e.from < 2 ? 0 : -60 * Double(e.to - e.from - 1)
      if repeatIndex > 0 { bend += (e.from == 1 ? 1 : -1) * 50 * Double(repeatIndex) }
      let edge = curve(from: from, to: to, bend: bend)
      out.append(##"<g class="edge op" id="\##(cell.name)-edge-\##(i)" data-op="\##(escape(e.op))" data-from="\##(e.from)" data-to="\##(e.to)">"##)
      out.append(##"<path d="\##(edge.path)" fill="none" stroke="#333" stroke-width="1.4" marker-end="url(#arrow)"/>"##)
      out.append("</g>")
      let width = Double(e.op.count) * Layout.characterWidth + 8
      let candidates = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78].map { Box(centre: edge.point($0), width: width, height: 17) }
      let box = candidates.first { c in !taken.contains { $0.overlaps(c) } } ?? candidates[0]
      taken.append(box)
      labels.append(##"<g class="edge-label"><rect x="\##(format(box.centre.x - width / 2))" y="\##(format(box.centre.y - 9))" width="\##(format(width))" height="17" rx="3" fill="white" fill-opacity="0.9"/><text x="\##(format(box.centre.x))" y="\##(format(box.centre.y + 4))" font-size="12" text-anchor="middle" fill="#1a4d8f">\##(escape(e.op))</text></g>"##)
    }
    let output = position(cell.outputNode, in: cell, top: top)
    for node in cell.concat {
      let from = position(node, in: cell, top: top)
      let span = Double(cell.outputNode - node - 1)
      let bend = node < 2 ? 0 : 30 * span
      let path = curve(from: from, to: output, bend: bend).path
      out.append(##"<g class="edge concat" data-from="\##(node)" data-to="\##(cell.outputNode)"><path d="\##(path)" fill="none" stroke="#999" stroke-width="1.2" stroke-dasharray="5,3" marker-end="url(#arrow-concat)"/></g>"##)
    }
    out += labels
    let fill = ["input": "#cfe3f7", "intermediate": "#e8e8e8", "output": "#cdeccd"]
    for node in 0...cell.outputNode {
      let p = position(node, in: cell, top: top)
      let kind = cell.kind(node)
      out.append(##"<g class="node \##(kind)" id="\##(cell.name)-node-\##(node)"><rect x="\##(format(p.x - Layout.nodeWidth / 2))" y="\##(format(p.y - Layout.nodeHeight / 2))" width="\##(format(Layout.nodeWidth))" height="\##(format(Layout.nodeHeight))" rx="8" fill="\##(fill[kind]!)" stroke="#555"/><text x="\##(format(p.x))" y="\##(format(p.y + 5))" font-size="14" text-anchor="middle" fill="#111">\##(escape(cell.label(node)))</text></g>"##)
    }
    out.append("</g>")
    return out
  }

  /// A quadratic Bézier curve.
  private struct Curve {
    var start: Point, control: Point, end: Point

    var path: String {
      "M \(format(start.x)) \(format(start.y)) Q \(format(control.x)) \(format(control.y)) \(format(end.x)) \(format(end.y))"
    }

    func point(_ t: Double) -> Point {
      let (a, b, c) = ((1 - t) * (1 - t), 2 * (1 - t) * t, t * t)
      return Point(x: a * start.x + b * control.x + c * end.x, y: a * start.y + b * control.y + c * end.y)
    }
  }

  /// An axis-aligned rectangle; boxes closer than 14 px sideways or 3 px vertically overlap,
  /// so that neighbouring labels never read as one.
  private struct Box {
    var centre: Point, width: Double, height: Double

    func overlaps(_ other: Box) -> Bool {
      abs(centre.x - other.centre.x) < (width + other.width) / 2 + 14 && abs(centre.y - other.centre.y) < (height + other.height) / 2 + 3
    }
  }

  /// A curve between the borders of two node boxes; `bend` moves the control point vertically
  /// from the chord's middle (negative: up).
  private func curve(from a: Point, to b: Point, bend: Double) -> Curve {
    let control = Point(x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 + bend)
    return Curve(start: clipped(a, toward: control), control: control, end: clipped(b, toward: control))
  }

  /// The point where the ray from the centre of the node box at `p` toward `q` leaves the box.
  private func clipped(_ p: Point, toward q: Point) -> Point {
    let (dx, dy) = (q.x - p.x, q.y - p.y)
    let scale = min(dx == 0 ? .infinity : Layout.nodeWidth / 2 / abs(dx), dy == 0 ? .infinity : Layout.nodeHeight / 2 / abs(dy))
    return scale.isFinite ? Point(x: p.x + dx * scale, y: p.y + dy * scale) : p
  }


  /// Text with the five XML special characters escaped.
  private func escape(_ s: String) -> String {
    var result = ""
    for c in s {
      switch c {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&apos;"
      default: result.append(c)
      }
    }
    return result
  }
}

/// A coordinate with one decimal.
private func format(_ v: Double) -> String { String(format: "%.1f", v) }
