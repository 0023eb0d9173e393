import TensorCore
import XCTest

/// Asserts `|actual − expected| ≤ atol + rtol·|expected|` element-wise and reports the worst
/// element. The tolerance is not symmetric in its arguments: pass the reference as `expected`.
public func assertClose(
  _ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
  _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) {
  guard actual.count == expected.count else {
    XCTFail("count \(actual.count) != \(expected.count) \(message())", file: file, line: line)
    return
  }
  var worst = -1
  var worstExcess: Float = 0
  for i in 0..<actual.count {
    let excess = abs(actual[i] - expected[i]) - (atol + rtol * abs(expected[i]))
    if !(excess <= 0) && (worst < 0 || !(excess <= worstExcess)) {
      worst = i
      worstExcess = excess
    }
  }
  if worst >= 0 {
    XCTFail(
      "element \(worst): \(actual[worst]) vs expected \(expected[worst]) "
        + "(rtol \(rtol), atol \(atol)) \(message())", file: file, line: line)
  }
}

/// `count` uniform samples in `[low, high)` from a generator seeded with `seed`.
public func randomArray(_ count: Int, seed: UInt64, low: Float = -1, high: Float = 1) -> [Float] {
  var generator = SeededGenerator(seed: seed)
  return (0..<count).map { _ in low + (high - low) * generator.nextUniform() }
}
