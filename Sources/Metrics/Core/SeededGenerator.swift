import Foundation

/// A small, fast, seedable random number generator (xoshiro256**, seeded through SplitMix64).
///
/// Every randomised statistic in Metrics (permutations, bootstrap, folds) takes a seed and uses
/// this generator, so a report can be reproduced bit for bit. `stream` derives independent
/// sub-generators (one per permutation batch, per fold, …) from the same seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

  /// A generator for `seed`; different `stream` values give independent sequences.
  public init(seed: UInt64, stream: UInt64 = 0) {
    var x = seed &+ 0x9E37_79B9_7F4A_7C15 &* (stream &+ 1)
    func splitMix() -> UInt64 {
      x = x &+ 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitMix()
    s1 = splitMix()
    s2 = splitMix()
    s3 = splitMix()
  }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    let result = rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 45)
    return result
  }

  private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// A standard normal draw (Box–Muller).
  public mutating func nextGaussian() -> Double {
    let u1 = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &self)
    let u2 = Double.random(in: 0..<1, using: &self)
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
  }
}
