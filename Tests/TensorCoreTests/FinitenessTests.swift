import TensorCore
import XCTest

/// The finiteness scan of tensors and state dicts, at every position of SIMD blocks and tails.
final class FinitenessTests: XCTestCase {
  let backend = CPUBackend(threads: 2)

  func testEveryNonFiniteElementIsFoundWherever() {
    for count in [1, 15, 16, 17, 4097, 70_001] {
      let finite = Tensor(shape: [count], scalars: (0..<count).map { Float($0 % 7) / 7 * .greatestFiniteMagnitude }, on: backend)
      XCTAssertTrue(finite.isFinite, "\(count)")
      for position in Set([0, count / 2, count - 1]) {
        for bad in [Float.nan, .infinity, -.infinity, -.nan] {
          var scalars = finite.scalars
          scalars[position] = bad
          XCTAssertFalse(Tensor(shape: [count], scalars: scalars, on: backend).isFinite, "\(bad) at \(position) of \(count)")
        }
      }
    }
  }

  func testTheFirstNonFiniteNameIsTheSmallest() throws {
    let ok = Tensor(shape: [2], scalars: [1, -1], on: backend)
    let bad = Tensor(shape: [2], scalars: [1, .infinity], on: backend)
    XCTAssertNil(["a": ok, "b": ok].firstNonFiniteName)
    XCTAssertEqual(["a": ok, "c.running_var": bad, "b.weight": bad].firstNonFiniteName, "b.weight")
    XCTAssertThrowsError(try NonFiniteError.check(["a": ok, "z": bad], after: "the step")) { error in
      XCTAssertEqual("\(error)", "after the step, tensor z is not finite")
    }
    XCTAssertThrowsError(try NonFiniteError.check(Float.nan, "the training loss")) { error in
      XCTAssertEqual("\(error)", "the training loss is nan")
    }
    XCTAssertNoThrow(try NonFiniteError.check(Double.greatestFiniteMagnitude, "the evaluation loss"))
  }
}
