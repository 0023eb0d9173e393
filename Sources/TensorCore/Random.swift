import Foundation

/// A seeded, checkpointable pseudo-random generator (xoshiro256**, Blackman & Vigna 2018).
///
/// Randomness in this package is always passed in as a value of this type: there is no global
/// generator. Its whole state is four words, so it round-trips through checkpoints (`Codable`)
/// and a resumed run continues the exact same stream.
public struct SeededGenerator: RandomNumberGenerator, Codable, Hashable, Sendable {
  public private(set) var state: [UInt64]

  /// Seeds the four state words from `seed` with SplitMix64, as the xoshiro authors recommend.
  public init(seed: UInt64) {
    var s = seed
    var words: [UInt64] = []
    for _ in 0..<4 {
      s &+= 0x9E37_79B9_7F4A_7C15
      var z = s
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      words.append(z ^ (z >> 31))
    }
    state = words
  }

  public mutating func next() -> UInt64 {
    let result = rotl(state[1] &* 5, 7) &* 9
    let t = state[1] << 17
    state[2] ^= state[0]
    state[3] ^= state[1]
    state[1] ^= state[2]
    state[0] ^= state[3]
    state[2] ^= t
    state[3] = rotl(state[3], 45)
    return result
  }

  /// A uniform sample in [0, 1) with 24 random bits.
  public mutating func nextUniform() -> Float {
    Float(next() >> 40) * (1.0 / 16_777_216.0)
  }

  /// A standard normal sample (Box–Muller on two uniforms; one sample per call).
  public mutating func nextNormal() -> Float {
    let u1 = Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)  // (0, 1]
    let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    return Float((-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2))
  }

  /// A fresh, independent generator derived from this one (advances this generator once).
  public mutating func split() -> SeededGenerator { SeededGenerator(seed: next()) }

  private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

