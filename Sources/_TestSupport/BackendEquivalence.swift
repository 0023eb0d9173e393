import TensorCore
import XCTest

/// The two backends the backend-equivalence tests run the same computation on: `fast`, the
/// backend runs use, and `reference`, every primitive as the plain single-threaded loop that
/// defines it, whose results `fast` must reproduce within float reordering.
public func backendPair() -> (fast: any Backend, reference: any Backend) {
  (CPUBackend(threads: 2), ReferenceBackend())
}

/// `[count, channels, size, size]` standard-normal images and `count` labels in
/// `0..<classes`, drawn from `generator` on the host and placed on `backend`: the same
/// generator state gives the same batch on every backend.
public func randomBatch(
  count: Int, channels: Int, size: Int, classes: Int, generator: inout SeededGenerator, on backend: any Backend
) -> (images: Tensor, labels: [Int]) {
  let images = Tensor.randomNormal([count, channels, size, size], generator: &generator, on: backend)
  let labels = (0..<count).map { _ in Int(generator.next() % UInt64(classes)) }
  return (images, labels)
}

/// Asserts that `actual` and `expected` name the same tensors and that each pair has the same
/// shape and values within `atol + rtol·|expected|` (see ``assertClose(_:_:rtol:atol:_:file:line:)``).
/// Pass the reference backend's tensors as `expected`.
public func assertClose(
  _ actual: [String: Tensor], _ expected: [String: Tensor], rtol: Float, atol: Float,
  _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertEqual(actual.keys.sorted(), expected.keys.sorted(), "names \(message())", file: file, line: line)
  for (name, reference) in expected.sorted(by: { $0.key < $1.key }) {
    guard let tensor = actual[name] else { continue }
    XCTAssertEqual(tensor.shape, reference.shape, "\(name) \(message())", file: file, line: line)
    assertClose(tensor.scalars, reference.scalars, rtol: rtol, atol: atol, "\(name) \(message())", file: file, line: line)
  }
}

/// Asserts that every tensor of `before` named in `names` has at least one element that
/// differs in `after`, so a step that left them alone cannot pass an equivalence test.
public func assertChanged(
  _ names: [String], from before: [String: Tensor], to after: [String: Tensor], _ message: @autoclosure () -> String = "",
  file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertFalse(names.isEmpty, "nothing to check \(message())", file: file, line: line)
  for name in names {
    guard let old = before[name], let new = after[name] else {
      XCTFail("\(name) missing \(message())", file: file, line: line)
      continue
    }
    XCTAssertNotEqual(new.scalars, old.scalars, "\(name) unchanged \(message())", file: file, line: line)
  }
}
