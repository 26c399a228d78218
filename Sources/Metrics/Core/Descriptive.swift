import Foundation

/// Descriptive statistics used throughout Metrics (double precision, no allocation tricks).
public enum Descriptive {
  /// Arithmetic mean; NaN for an empty sample.
  public static func mean<C: Collection>(_ x: C) -> Double where C.Element: BinaryFloatingPoint {
    if x.isEmpty { return .nan }
    var s = 0.0
    for v in x { s += Double(v) }
    return s / Double(x.count)
  }

  /// Sample variance with `ddof` degrees of freedom removed (1 = unbiased, numpy's `ddof`).
  public static func variance<C: Collection>(_ x: C, ddof: Int = 1) -> Double
  where C.Element: BinaryFloatingPoint {
    let n = x.count
    if n - ddof <= 0 { return .nan }
    let m = mean(x)
    var s = 0.0
    for v in x {
      let d = Double(v) - m
      s += d * d
    }
    return s / Double(n - ddof)
  }

  /// Standard deviation with `ddof` degrees of freedom removed.
  public static func standardDeviation<C: Collection>(_ x: C, ddof: Int = 1) -> Double
  where C.Element: BinaryFloatingPoint {
    variance(x, ddof: ddof).squareRoot()
  }

  /// The `p`-quantile (0 ≤ p ≤ 1) with linear interpolation between order statistics
  /// (numpy's default `method="linear"`, Hyndman–Fan type 7).
  public static func quantile(_ x: [Double], _ p: Double) -> Double {
    quantile(sorted: x.sorted(), p)
  }

  /// `quantile(_:_:)` on data that is already sorted ascending.
  public static func quantile(sorted x: [Double], _ p: Double) -> Double {
    if x.isEmpty { return .nan }
    let h = Double(x.count - 1) * min(max(p, 0), 1)
    let lo = Int(h.rounded(.down))
    let hi = min(lo + 1, x.count - 1)
    return x[lo] + (h - Double(lo)) * (x[hi] - x[lo])
  }

  /// Median (type-7 quantile at 0.5).
  public static func median(_ x: [Double]) -> Double { quantile(x, 0.5) }

  /// Mid-ranks (1-based; tied values share the mean of their ranks), as scipy's `rankdata`.
  public static func midranks(_ x: [Double]) -> [Double] {
    let order = x.indices.sorted { x[$0] < x[$1] }
    var ranks = [Double](repeating: 0, count: x.count)
    var i = 0
    while i < order.count {
      var j = i
      while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
      let rank = Double(i + j) / 2 + 1
      for k in i...j { ranks[order[k]] = rank }
      i = j + 1
    }
    return ranks
  }
}
