// Randomness: the project's one seeded random generator.
//
//   SeededGenerator(seed:stream:)     xoshiro256**, seeded through SplitMix64, streams by key.
//   .below(n) / .integer(a...b)        bounded integers (Lemire), never `Int.random(in:using:)`.
//   .unit() / .uniform(a, b)           doubles; .unitFloat() / .uniformFloat(a, b) floats.
//   .normal()                          Box–Muller.
//   .shuffle(&array)                   Fisher–Yates with `below`, never `shuffle(using:)`.

/// A seeded pseudo-random generator (xoshiro256**) whose streams are derived from keys.
///
/// Everything random in the project draws from one of these: weight initialisation and dropout
/// (Neural, Adaptation), the phantom generator, splits, label budgets and augmentation
/// (Datasets), and every permutation test and bootstrap (Metrics). Results depend only on the
/// seed and the stream key, never on thread scheduling or the platform's
/// `SystemRandomNumberGenerator`. Bounded integers, shuffles and floating-point values are
/// produced by this type's own arithmetic, not by the standard library's
/// `random(in:using:)` / `shuffle(using:)`, whose algorithms are not a documented contract: a
/// toolchain update must not change a split, a trained model or a reported p-value.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var s0: UInt64
  private var s1: UInt64
  private var s2: UInt64
  private var s3: UInt64

  /// Creates a generator for `seed`, mixed with each key of `stream` (e.g. site, image index).
  public init(seed: UInt64, stream: [UInt64] = []) {
    var x = seed ^ 0x6A09_E667_F3BC_C908
    for key in stream { x = SeededGenerator.splitMix(&x) ^ (key &* 0x9E37_79B9_7F4A_7C15) }
    s0 = SeededGenerator.splitMix(&x)
    s1 = SeededGenerator.splitMix(&x)
    s2 = SeededGenerator.splitMix(&x)
    s3 = SeededGenerator.splitMix(&x)
    if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
  }

  /// Creates a generator from a seed and a textual stream name (e.g. a site name).
  public init(seed: UInt64, name: String, stream: [UInt64] = []) {
    self.init(seed: seed, stream: [SeededGenerator.fnv1a(name)] + stream)
  }

  private static func splitMix(_ x: inout UInt64) -> UInt64 {
    x &+= 0x9E37_79B9_7F4A_7C15
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// FNV-1a hash of a string's UTF-8 bytes (stable across runs, unlike `Hasher`).
  public static func fnv1a(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in text.utf8 {
      h ^= UInt64(b)
      h = h &* 0x100_0000_01B3
    }
    return h
  }

  @inline(__always) private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
  }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    let result = SeededGenerator.rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = SeededGenerator.rotl(s3, 45)
    return result
  }

  /// A uniform double in [0, 1) with 53 random bits.
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

  /// A uniform double in [lower, upper).
  public mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
    lower + (upper - lower) * unit()
  }

  /// A uniform Float in [0, 1) with 24 random bits.
  public mutating func unitFloat() -> Float { Float(next() >> 40) * 0x1.0p-24 }

  /// A uniform Float in [lower, upper).
  public mutating func uniformFloat(_ lower: Float, _ upper: Float) -> Float {
    lower + (upper - lower) * unitFloat()
  }

  /// A uniform double within a closed range given as `[lower, upper]`.
  public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
    uniform(range.lowerBound, range.upperBound)
  }

  /// A uniform integer in `0..<bound` (Lemire's nearly-divisionless method).
  public mutating func below(_ bound: Int) -> Int {
    precondition(bound > 0, "SeededGenerator.below needs a positive bound, got \(bound).")
    let b = UInt64(bound)
    var m = next().multipliedFullWidth(by: b)
    if m.low < b {
      let threshold = (0 &- b) % b
      while m.low < threshold { m = next().multipliedFullWidth(by: b) }
    }
    return Int(m.high)
  }

  /// A uniform integer in a closed range.
  public mutating func integer(_ range: ClosedRange<Int>) -> Int {
    range.lowerBound + below(range.upperBound - range.lowerBound + 1)
  }

  /// True with probability `p`.
  public mutating func bernoulli(_ p: Double) -> Bool { unit() < p }

  /// A standard normal sample (Box–Muller; one of the pair is discarded for simplicity).
  public mutating func normal() -> Double {
    let u1 = max(unit(), 0x1.0p-60)
    let u2 = unit()
    return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
  }

  /// Fills `buffer` with standard normal samples, using both values of each Box–Muller pair.
  public mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, scale: Float) {
    var i = 0
    let n = buffer.count
    while i < n {
      let u1 = max(unit(), 0x1.0p-60)
      let u2 = unit()
      let r = (-2 * _log(u1)).squareRoot()
      let a = 2 * Double.pi * u2
      buffer[i] = Float(r * _cos(a)) * scale
      if i + 1 < n { buffer[i + 1] = Float(r * _sin(a)) * scale }
      i += 2
    }
  }

  /// Shuffles `array` in place (Fisher–Yates with this generator's bounded integers).
  public mutating func shuffle<T>(_ array: inout [T]) {
    guard array.count > 1 else { return }
    for i in stride(from: array.count - 1, to: 0, by: -1) {
      let j = below(i + 1)
      if i != j { array.swapAt(i, j) }
    }
  }
}

#if canImport(Glibc)
  import Glibc
  @inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
  @inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
  @inline(__always) func _sin(_ x: Double) -> Double { Glibc.sin(x) }
#else
  import Darwin
  @inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
  @inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
  @inline(__always) func _sin(_ x: Double) -> Double { Darwin.sin(x) }
#endif
