import Runs
import TensorBoard
import XCTest

final class JournalSummariesTests: XCTestCase {
  func testAStepEventPlotsItsNumbersUnderItsType() {
    let event: [String: JSONValue] = [
      "type": "step", "event": 3, "wall_time": 1_700_000_000.5, "epoch": 0, "step": 2, "global_step": 3,
      "loss": 2.25, "accuracy": 0.5, "peak_memory_bytes": 163_119_104, "attack_kept": true,
      "timing": ["forward": 0.125], "note": "text", "list": [1, 2], "missing": nil,
    ]
    var summaries = JournalSummaries()
    let summary = summaries.event(for: event, fallbackWallTime: 7)
    XCTAssertEqual(summary, TensorBoardEvent(wallTime: 1_700_000_000.5, step: 3, content: .summary([
      .scalar("step/accuracy", 0.5), .scalar("step/attack_kept", 1), .scalar("step/loss", 2.25),
      .scalar("step/peak_memory_bytes", 163_119_104), .scalar("step/timing/forward", 0.125),
    ])))
    XCTAssertEqual(summaries.step, 3)
  }

  func testEventsWithoutAGlobalStepSitAtTheLatestOne() {
    var summaries = JournalSummaries()
    XCTAssertEqual(summaries.event(for: ["type": "epoch_start", "epoch": 0, "lr": 0.05], fallbackWallTime: 7)?.step, 0)
    _ = summaries.event(for: ["type": "step", "global_step": 4, "loss": 1], fallbackWallTime: 7)
    let start = summaries.event(for: ["type": "epoch_start", "epoch": 1, "lr": 0.025, "genotype": "Genotype(…)"], fallbackWallTime: 7)
    XCTAssertEqual(start, TensorBoardEvent(wallTime: 7, step: 4, content: .summary([
      .scalar("epoch_start/lr", 0.025), .text("epoch_start/genotype", "Genotype(…)"),
    ].sorted { $0.tag < $1.tag })))
    XCTAssertNil(summaries.event(for: ["type": "stage_start", "stage": 1, "normal_operations": [["none"]]], fallbackWallTime: 7), "nothing to show")
  }

  /// A cell of 2 nodes (5 edges) with 2 operations per edge, and a rank-1 β.
  func testArchitectureParametersArePlottedPerEdgeAndOperation() throws {
    let operations: JSONValue = .array(Array(repeating: ["skip_connect", "sep_conv_3x3"], count: 5))
    let softmax: [JSONValue] = (0..<10).map { .double(Double($0) / 10) }
    let event: [String: JSONValue] = [
      "type": "epoch", "global_step": 8,
      "architecture": [
        "alphas_normal": ["shape": [5, 2], "raw": .array(softmax), "softmax": .array(softmax)],
        "alphas_reduce": ["shape": [5, 2], "softmax": .array(softmax)],  // no reduce_operations
        "betas_normal": ["shape": [5], "softmax": [0.5, 0.5, 0.25, 0.25, 0.5]],
        "broken": ["shape": [5, 3], "softmax": .array(softmax)],
        "normal_operations": operations, "stage": 1,
      ],
    ]
    let values = JournalSummaries.values(of: event)
    let tags = values.map(\.tag)
    let edges = ["edge_0_2", "edge_1_2", "edge_0_3", "edge_1_3", "edge_2_3"]
    XCTAssertEqual(Set(tags.filter { $0.hasPrefix("alphas_normal/") }), Set(edges.flatMap { ["alphas_normal/\($0)/skip_connect", "alphas_normal/\($0)/sep_conv_3x3"] }))
    XCTAssertEqual(Set(tags.filter { $0.hasPrefix("alphas_reduce/") }), Set(edges.flatMap { ["alphas_reduce/\($0)/op_0", "alphas_reduce/\($0)/op_1"] }))
    XCTAssertEqual(values.first { $0.tag == "alphas_normal/edge_1_3/sep_conv_3x3" }?.content, .scalar(0.7), "edge 3, column 1")
    XCTAssertEqual(values.first { $0.tag == "betas_normal/edge_0_3" }?.content, .scalar(0.25))
    XCTAssertEqual(values.count, 10 + 10 + 5, "\(tags)")
    XCTAssertEqual(tags, tags.sorted())
  }

  func testEdgeNamesFollowTheCellTopology() {
    var summaries = JournalSummaries()
    let softmax: JSONValue = .array(Array(repeating: 0.125, count: 14 * 8))
    let event = summaries.event(for: ["type": "epoch", "architecture": ["alphas_normal": ["shape": [14, 8], "softmax": softmax]]], fallbackWallTime: 0)
    guard case .summary(let values)? = event?.content else { return XCTFail("no summary") }
    let edges = Set(values.map { $0.tag.split(separator: "/")[1] })
    XCTAssertEqual(edges.count, 14)
    XCTAssert(edges.contains("edge_4_5") && edges.contains("edge_0_5") && !edges.contains("edge_5_5"), "\(edges)")
    let odd = JournalSummaries.values(of: ["type": "epoch", "architecture": ["alphas_normal": ["shape": [3], "softmax": [1, 0, 0]]]])
    XCTAssertEqual(odd.map(\.tag), ["alphas_normal/edge_0", "alphas_normal/edge_1", "alphas_normal/edge_2"], "not a DARTS cell: edge indices")
  }
}
