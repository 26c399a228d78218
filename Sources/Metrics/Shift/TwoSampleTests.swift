import Randomness

/// The two-sample Kolmogorov–Smirnov test result.
public struct KSResult: Codable, Sendable, Equatable {
  /// D = sup |F₁ − F₂| of the empirical CDFs.
  public var statistic: Double
  /// Two-sided p-value.
  public var pValue: Double
  /// "exact" (lattice-path count, as scipy's `method="exact"`) or "asymptotic" (Kolmogorov).
  public var method: String
}

/// Univariate two-sample comparisons: Kolmogorov–Smirnov and the 1-D Wasserstein distance.
public enum TwoSample {
  /// Two-sided two-sample KS test of `x` against `y`.
  ///
  /// The p-value is exact — P(D ≥ d) over all (n+m choose n) equally likely orderings, by a
  /// dynamic programme over the lattice paths that stay inside |i/n − j/m| < d — whenever
  /// n·m ≤ 10⁸ (this matches scipy's `ks_2samp` default for these sizes). Larger samples use
  /// the limiting Kolmogorov distribution at √(nm/(n+m))·D.
  public static func kolmogorovSmirnov(_ x: [Double], _ y: [Double]) throws -> KSResult {
    guard !x.isEmpty else {
      throw MetricsError.tooFewSamples(input: "KS first sample", count: 0, minimum: 1)
    }
    guard !y.isEmpty else {
      throw MetricsError.tooFewSamples(input: "KS second sample", count: 0, minimum: 1)
    }
    if let bad = x.firstIndex(where: { !$0.isFinite }) {
      throw MetricsError.nonFinite(input: "KS first sample", index: bad)
    }
    if let bad = y.firstIndex(where: { !$0.isFinite }) {
      throw MetricsError.nonFinite(input: "KS second sample", index: bad)
    }
    let a = x.sorted()
    let b = y.sorted()
    let n = a.count
    let m = b.count
    // D·n·m as an integer: max over merged values of |i·m − j·n|.
    var i = 0
    var j = 0
    var maxGap = 0
    while i < n || j < m {
      let v = min(i < n ? a[i] : .infinity, j < m ? b[j] : .infinity)
      while i < n && a[i] == v { i += 1 }
      while j < m && b[j] == v { j += 1 }
      maxGap = max(maxGap, abs(i * m - j * n))
    }
    let d = Double(maxGap) / (Double(n) * Double(m))
    if Double(n) * Double(m) <= 1e8 {
      return KSResult(statistic: d, pValue: exactKSPValue(n: n, m: m, gap: maxGap), method: "exact")
    }
    let en = Double(n) * Double(m) / Double(n + m)
    return KSResult(
      statistic: d, pValue: Distributions.kolmogorovSurvival(en.squareRoot() * d),
      method: "asymptotic")
  }

  /// Two-sided KS test whose p-value relabels whole clusters (patients) instead of single
  /// values: (1 + #{D* ≥ D})/(1 + B) over `permutations` relabellings that keep each side's
  /// number of clusters. Use it when several values come from one patient: the classical
  /// p-value assumes independent values and is then far too small.
  public static func kolmogorovSmirnov(
    _ x: [Double], _ y: [Double], xClusters: [String], yClusters: [String], permutations: Int,
    seed: UInt64
  ) throws -> KSResult {
    guard xClusters.count == x.count, yClusters.count == y.count else {
      throw MetricsError.sizeMismatch(
        input: "KS clusters", expected: x.count + y.count,
        actual: xClusters.count + yClusters.count)
    }
    let observed = try kolmogorovSmirnov(x, y)
    guard permutations > 0 else { return observed }
    let values = x + y
    let order = values.indices.sorted { values[$0] < values[$1] }
    // Cluster index per pooled value: source clusters first.
    var clusterOf = [Int](repeating: 0, count: values.count)
    var index: [String: Int] = [:]
    for (i, c) in xClusters.enumerated() {
      if index[c] == nil { index[c] = index.count }
      clusterOf[i] = index[c]!
    }
    let sourceClusters = index.count
    index = [:]
    for (j, c) in yClusters.enumerated() {
      if index[c] == nil { index[c] = sourceClusters + index.count }
      clusterOf[x.count + j] = index[c]!
    }
    let clusterCount = sourceClusters + index.count
    func statistic(_ inSource: [Bool]) -> Double {
      var n = 0
      for v in inSource where v { n += 1 }
      let m = values.count - n
      guard n > 0, m > 0 else { return 0 }
      var i = 0
      var j = 0
      var best = 0.0
      var k = 0
      while k < order.count {
        let v = values[order[k]]
        while k < order.count && values[order[k]] == v {
          if inSource[order[k]] { i += 1 } else { j += 1 }
          k += 1
        }
        best = max(best, abs(Double(i) / Double(n) - Double(j) / Double(m)))
      }
      return best
    }
    var generator = SeededGenerator(seed: seed, stream: [0x6b5])
    var clusters = Array(0..<clusterCount)
    var sourceSide = [Bool](repeating: false, count: clusterCount)
    var inSource = [Bool](repeating: false, count: values.count)
    var exceed = 0
    let tolerance = 1e-12
    for _ in 0..<permutations {
      generator.shuffle(&clusters)
      for (position, c) in clusters.enumerated() { sourceSide[c] = position < sourceClusters }
      for r in 0..<values.count { inSource[r] = sourceSide[clusterOf[r]] }
      if statistic(inSource) >= observed.statistic - tolerance { exceed += 1 }
    }
    return KSResult(
      statistic: observed.statistic,
      pValue: Double(1 + exceed) / Double(1 + permutations),
      method: "cluster permutation (\(permutations) relabellings of \(clusterCount) patients)")
  }

  /// P(max |i·m − j·n| ≥ gap) over uniformly random interleavings of n and m items.
  static func exactKSPValue(n: Int, m: Int, gap: Int) -> Double {
    if gap <= 0 { return 1 }
    // u[j] after row i = fraction of paths to (i, j) that stayed strictly inside the band.
    var u = [Double](repeating: 0, count: m + 1)
    u[0] = 1
    for j in 1...m { u[j] = (j * n) < gap ? u[j - 1] : 0 }
    if n >= 1 {
      for i in 1...n {
        u[0] = (i * m) < gap ? u[0] : 0
        for j in 1...max(m, 1) where j <= m {
          if abs(i * m - j * n) >= gap {
            u[j] = 0
          } else {
            let total = Double(i + j)
            u[j] = u[j] * Double(i) / total + u[j - 1] * Double(j) / total
          }
        }
      }
    }
    return min(max(1 - u[m], 0), 1)
  }

  /// The 1-D Wasserstein-1 distance ∫ |F₁(t) − F₂(t)| dt between the empirical distributions
  /// (scipy's `wasserstein_distance` without weights).
  public static func wasserstein1(_ x: [Double], _ y: [Double]) throws -> Double {
    guard !x.isEmpty, !y.isEmpty else {
      throw MetricsError.tooFewSamples(
        input: "Wasserstein samples", count: min(x.count, y.count), minimum: 1)
    }
    let a = x.sorted()
    let b = y.sorted()
    let n = Double(a.count)
    let m = Double(b.count)
    var i = 0
    var j = 0
    var previous = min(a[0], b[0])
    var total = 0.0
    while i < a.count || j < b.count {
      let v = min(i < a.count ? a[i] : .infinity, j < b.count ? b[j] : .infinity)
      total += abs(Double(i) / n - Double(j) / m) * (v - previous)
      previous = v
      while i < a.count && a[i] == v { i += 1 }
      while j < b.count && b[j] == v { j += 1 }
    }
    return total
  }
}
