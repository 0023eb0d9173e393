import TensorCore

/// A uniform integer in `0..<bound` (multiply-high; bias below 2⁻⁴⁰ for the bounds used here).
/// Written out rather than `Int.random(in:using:)`, whose algorithm the standard library does
/// not promise to keep, so that streams stay reproducible across toolchains.
func uniformInt(below bound: Int, using generator: inout SeededGenerator) -> Int {
  Int(generator.next().multipliedFullWidth(by: UInt64(bound)).high)
}

/// The first `length` entries of a uniformly random permutation of `0..<count` (forward
/// Fisher–Yates: position `i` swaps with `i + uniform(count − i)`). With `length == count` this
/// is a whole permutation, and a shorter prefix equals the start of the permutation drawn with
/// the same generator.
func shuffledPrefix(count: Int, length: Int, using generator: inout SeededGenerator) -> [Int] {
  var values = Array(0..<count)
  for i in 0..<min(length, count - 1) {
    values.swapAt(i, i + uniformInt(below: count - i, using: &generator))
  }
  return Array(values.prefix(length))
}

/// A generator whose seed depends only on `parts` (each folded in with the SplitMix64 finaliser),
/// so that a random choice keyed by (seed, stream, epoch, step, purpose) is the same whenever and
/// on whichever thread it is made (drop-path masks of a training step, skip-dropout masks of a
/// P-DARTS search step).
public func derivedGenerator(_ parts: UInt64...) -> SeededGenerator {
  var hash: UInt64 = 0x243F_6A88_85A3_08D3
  for part in parts {
    var z = (hash ^ part) &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    hash = z ^ (z >> 31)
  }
  return SeededGenerator(seed: hash)
}

/// A uniform double in `[0, 1)` from the top 53 bits of one draw.
func uniformDouble(using generator: inout SeededGenerator) -> Double {
  Double(generator.next() >> 11) * 0x1p-53
}
