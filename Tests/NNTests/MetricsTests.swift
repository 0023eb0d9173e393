import NN
import TensorCore
import XCTest

/// Top-k counts: ties favour the label; a row with a NaN or an infinity is never correct.
final class MetricsTests: XCTestCase {
  let backend = CPUBackend(threads: 1)

  func testTopKCountsTiesForTheLabelAndNeverANonFiniteRow() {
    let logits = Tensor(
      shape: [6, 3],
      scalars: [
        3, 1, 2,  // label 0: rank 0
        1, 2, 2,  // label 1: tied first, rank 0
        1, 2, 3,  // label 0: rank 2
        .nan, .nan, .nan,  // label 0: every comparison with NaN is false
        .infinity, 1, 2,  // label 0: +∞ would rank first
        2, .nan, 1,  // label 0: one NaN makes the row meaningless
      ], on: backend)
    let labels = [0, 1, 0, 0, 0, 0]
    XCTAssertEqual(topKCorrect(logits: logits, labels: labels, ks: [1, 2, 3]), [2, 2, 3])
  }
}
