import Foundation

/// Distribution functions needed for p-values and intervals (normal, Student t, binomial,
/// Kolmogorov). Written from their defining formulas; accurate to ~1e-12 in the ranges used.
public enum Distributions {
  // MARK: - Normal

  /// Standard normal CDF Φ(z).
  public static func normalCDF(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

  /// Upper tail 1 − Φ(z), accurate far into the tail.
  public static func normalSurvival(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }

  /// Standard normal quantile Φ⁻¹(p) for 0 < p < 1.
  public static func normalQuantile(_ p: Double) -> Double {
    precondition(p > 0 && p < 1, "normalQuantile needs 0 < p < 1, got \(p).")
    // Bisection on erfc is slow but exact to the last bits; it is called a handful of times.
    return invert(lower: -40, upper: 40, target: p, normalCDF)
  }

  // MARK: - Student t

  /// CDF of Student's t with `df` degrees of freedom.
  public static func studentTCDF(_ t: Double, df: Double) -> Double {
    precondition(df > 0, "studentTCDF needs df > 0, got \(df).")
    if t.isInfinite { return t > 0 ? 1 : 0 }
    let x = df / (df + t * t)
    let tail = 0.5 * regularizedIncompleteBeta(x, a: df / 2, b: 0.5)
    return t >= 0 ? 1 - tail : tail
  }

  /// Quantile of Student's t with `df` degrees of freedom, 0 < p < 1.
  public static func studentTQuantile(_ p: Double, df: Double) -> Double {
    precondition(p > 0 && p < 1, "studentTQuantile needs 0 < p < 1, got \(p).")
    return invert(lower: -1e6, upper: 1e6, target: p) { studentTCDF($0, df: df) }
  }

  /// The regularized incomplete beta function I_x(a, b), by its continued fraction
  /// (modified Lentz), using the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) for fast convergence.
  public static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    let lnFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
    if x > (a + 1) / (a + b + 2) {
      return 1 - regularizedIncompleteBeta(1 - x, a: b, b: a)
    }
    let tiny = 1e-300
    var f = 1.0
    var c = 1.0
    var d = 0.0
    for i in 0...400 {
      let m = Double(i / 2)
      let numerator: Double
      if i == 0 {
        numerator = 1
      } else if i % 2 == 0 {
        numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
      } else {
        numerator = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))
      }
      d = 1 + numerator * d
      if abs(d) < tiny { d = tiny }
      d = 1 / d
      c = 1 + numerator / c
      if abs(c) < tiny { c = tiny }
      let delta = c * d
      f *= delta
      if abs(1 - delta) < 1e-15 { break }
    }
    return exp(lnFront) * (f - 1) / a
  }

  // MARK: - Binomial

  /// P(X = k) for X ~ Binomial(n, p).
  public static func binomialPMF(_ k: Int, n: Int, p: Double) -> Double {
    if k < 0 || k > n { return 0 }
    if p == 0 { return k == 0 ? 1 : 0 }
    if p == 1 { return k == n ? 1 : 0 }
    let logC = lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    return exp(logC + Double(k) * log(p) + Double(n - k) * log1p(-p))
  }

  /// P(X ≤ k) for X ~ Binomial(n, p).
  public static func binomialCDF(_ k: Int, n: Int, p: Double) -> Double {
    if k < 0 { return 0 }
    if k >= n { return 1 }
    var s = 0.0
    for i in 0...k { s += binomialPMF(i, n: n, p: p) }
    return min(s, 1)
  }

  // MARK: - Kolmogorov

  /// The limiting Kolmogorov survival function Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}.
  public static func kolmogorovSurvival(_ lambda: Double) -> Double {
    if lambda <= 0 { return 1 }
    if lambda < 0.2 { return 1 }
    var s = 0.0
    for k in 1...200 {
      let term = exp(-2 * Double(k * k) * lambda * lambda)
      s += (k % 2 == 1 ? 1 : -1) * term
      if term < 1e-18 { break }
    }
    return min(max(2 * s, 0), 1)
  }

  // MARK: - Helpers

  static func invert(
    lower: Double, upper: Double, target: Double, _ f: (Double) -> Double
  ) -> Double {
    var lo = lower
    var hi = upper
    for _ in 0..<200 {
      let mid = 0.5 * (lo + hi)
      if f(mid) < target { lo = mid } else { hi = mid }
      if hi - lo <= 1e-15 * max(1, abs(mid)) { break }
    }
    return 0.5 * (lo + hi)
  }
}
