import Foundation

/// The small statistics the report needs: means, t-based intervals and paired t-tests over seeds.
///
/// Kept here (rather than in Metrics) because the report only needs Student-t intervals over a
/// handful of seeds; Metrics owns the bootstrap and permutation machinery for the image-level
/// statistics.
public enum ReportStatistics {
  /// Mean ± t-interval of `values` (nil interval with fewer than two values).
  public static func meanInterval(_ values: [Double], confidence: Double) -> Interval? {
    let v = values.filter(\.isFinite)
    guard !v.isEmpty else { return nil }
    let n = Double(v.count)
    let mean = v.reduce(0, +) / n
    guard v.count >= 2 else { return Interval(mean: mean, lower: nil, upper: nil, n: v.count) }
    let sd = standardDeviation(v, mean: mean)
    let half = tQuantile(twoSidedAlpha: 1 - confidence, df: n - 1) * sd / n.squareRoot()
    return Interval(mean: mean, lower: mean - half, upper: mean + half, n: v.count)
  }

  /// Paired t-test of `a − b` (same seeds): mean difference, its interval and two-sided p.
  /// With zero variance the interval collapses and p is nil (the test is undefined).
  public static func pairedTest(_ a: [Double], _ b: [Double], confidence: Double) -> PairedTest? {
    precondition(a.count == b.count, "pairedTest needs equally many values on both sides.")
    let d = zip(a, b).map { $0 - $1 }.filter(\.isFinite)
    guard !d.isEmpty else { return nil }
    let n = Double(d.count)
    let mean = d.reduce(0, +) / n
    guard d.count >= 2 else {
      return PairedTest(difference: mean, lower: nil, upper: nil, pValue: nil, t: nil, n: d.count)
    }
    let sd = standardDeviation(d, mean: mean)
    let se = sd / n.squareRoot()
    guard se > 0 else {
      return PairedTest(difference: mean, lower: mean, upper: mean, pValue: nil, t: nil, n: d.count)
    }
    let half = tQuantile(twoSidedAlpha: 1 - confidence, df: n - 1) * se
    let t = mean / se
    return PairedTest(
      difference: mean, lower: mean - half, upper: mean + half,
      pValue: tTwoSidedP(t: t, df: n - 1), t: t, n: d.count)
  }

  /// Sample standard deviation (n − 1).
  public static func standardDeviation(_ v: [Double], mean: Double) -> Double {
    guard v.count > 1 else { return 0 }
    return (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot()
  }

  /// Two-sided p-value of Student's t with `df` degrees of freedom:
  /// P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2).
  public static func tTwoSidedP(t: Double, df: Double) -> Double {
    guard t.isFinite else { return 0 }
    return regularizedIncompleteBeta(x: df / (df + t * t), a: df / 2, b: 0.5)
  }

  /// The t value with two-sided tail probability `twoSidedAlpha` (e.g. 0.05 → 12.706 at df 1).
  public static func tQuantile(twoSidedAlpha alpha: Double, df: Double) -> Double {
    var lo = 0.0
    var hi = 1.0
    while tTwoSidedP(t: hi, df: df) > alpha { hi *= 2 }
    for _ in 0..<200 {
      let mid = (lo + hi) / 2
      if tTwoSidedP(t: mid, df: df) > alpha { lo = mid } else { hi = mid }
      if hi - lo < 1e-12 * max(1, hi) { break }
    }
    return (lo + hi) / 2
  }

  /// I_x(a, b) by the continued fraction (modified Lentz), using the symmetry
  /// I_x(a,b) = 1 − I_{1−x}(b,a) where the fraction converges slowly.
  public static func regularizedIncompleteBeta(x: Double, a: Double, b: Double) -> Double {
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    let logBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
    let logPowers: Double = a * log(x) + b * log(1 - x)
    let logFront = logBeta + logPowers
    if x > (a + 1) / (a + b + 2) {
      return 1 - regularizedIncompleteBeta(x: 1 - x, a: b, b: a)
    }
    let tiny = 1e-300
    var c = 1.0
    var d = 1 - (a + b) * x / (a + 1)
    if abs(d) < tiny { d = tiny }
    d = 1 / d
    var f = d
    for m in 1...500 {
      let m = Double(m)
      // Even step.
      var num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
      d = 1 + num * d
      if abs(d) < tiny { d = tiny }
      c = 1 + num / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      f *= d * c
      // Odd step.
      num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
      d = 1 + num * d
      if abs(d) < tiny { d = tiny }
      c = 1 + num / c
      if abs(c) < tiny { c = tiny }
      d = 1 / d
      let delta = d * c
      f *= delta
      if abs(delta - 1) < 1e-15 { break }
    }
    return exp(logFront) * f / a
  }
}

/// A mean with its interval over `n` values.
public struct Interval: Codable, Sendable, Equatable {
  public var mean: Double
  public var lower: Double?
  public var upper: Double?
  public var n: Int
}

/// A paired comparison over seeds.
public struct PairedTest: Codable, Sendable, Equatable {
  /// Mean of (a − b).
  public var difference: Double
  public var lower: Double?
  public var upper: Double?
  /// Two-sided paired t-test p-value (nil with < 2 pairs or zero variance).
  public var pValue: Double?
  public var t: Double?
  /// Number of pairs (seeds where both runs finished).
  public var n: Int
}
