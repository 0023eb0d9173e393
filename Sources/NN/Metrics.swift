import TensorCore

/// The number of samples whose label is among the `k` highest logits, for each `k` in `ks`
/// (top-1 and top-5 accuracy counts). A label ranks by the number of classes with a strictly
/// larger logit, so ties count in its favour. A sample with a non-finite logit (NaN or ±∞)
/// is never correct: every comparison with NaN is false, so it would otherwise rank first.
/// - Parameters:
///   - logits: `[N, K]`.
///   - labels: N classes in `0..<K`.
public func topKCorrect(logits: Tensor, labels: [Int], ks: [Int]) -> [Int] {
  precondition(logits.rank == 2 && logits.shape[0] == labels.count, "top-k needs [N, K] logits and N labels")
  let classes = logits.shape[1]
  let values = logits.scalars
  var correct = [Int](repeating: 0, count: ks.count)
  for (i, label) in labels.enumerated() {
    let row = values[(i * classes)..<((i + 1) * classes)]
    guard row.allSatisfy(\.isFinite) else { continue }
    let target = row[i * classes + label]
    let rank = row.reduce(0) { $0 + ($1 > target ? 1 : 0) }
    for (j, k) in ks.enumerated() where rank < k { correct[j] += 1 }
  }
  return correct
}
