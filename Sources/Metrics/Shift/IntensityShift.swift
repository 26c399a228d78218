import Foundation

/// A fixed-range histogram of pixel intensities, pooled over all images of a domain.
public struct IntensityHistogram: Codable, Sendable, Equatable {
  /// Lower edge of the first bin.
  public var lower: Double
  /// Upper edge of the last bin.
  public var upper: Double
  /// Counts per equal-width bin.
  public var counts: [Int]
  /// Values below `lower`.
  public var underflow: Int
  /// Values at or above `upper` (the last bin includes `upper` itself).
  public var overflow: Int

  /// An empty histogram of `bins` equal-width bins over [lower, upper].
  public init(lower: Double, upper: Double, bins: Int) {
    precondition(upper > lower && bins > 0, "IntensityHistogram needs upper > lower and bins > 0.")
    self.lower = lower
    self.upper = upper
    counts = [Int](repeating: 0, count: bins)
    underflow = 0
    overflow = 0
  }

  /// Adds every value of one image (non-finite values are ignored).
  public mutating func add(_ values: [Float]) {
    let bins = counts.count
    let scale = Double(bins) / (upper - lower)
    for value in values {
      let v = Double(value)
      guard v.isFinite else { continue }
      if v < lower {
        underflow += 1
      } else if v > upper {
        overflow += 1
      } else {
        counts[min(Int((v - lower) * scale), bins - 1)] += 1
      }
    }
  }

  /// Bin probabilities (counts / total in range).
  public var probabilities: [Double] {
    let total = Double(counts.reduce(0, +))
    return counts.map { total > 0 ? Double($0) / total : 0 }
  }

  /// Bin centres.
  public var centers: [Double] {
    let width = (upper - lower) / Double(counts.count)
    return counts.indices.map { lower + (Double($0) + 0.5) * width }
  }
}

/// Per-image intensity summaries and their comparison between two domains.
public enum IntensityShift {
  /// Percentiles reported per image, as (name, fraction).
  public static let percentiles: [(name: String, fraction: Double)] = [
    ("p01", 0.01), ("p05", 0.05), ("p25", 0.25), ("p50", 0.50), ("p75", 0.75), ("p95", 0.95),
    ("p99", 0.99),
  ]

  /// Summary statistics of one image's intensities (after the modality LUT): "mean", "std"
  /// (population) and the percentiles in `percentiles` (type-7 quantiles). Non-finite values
  /// are ignored.
  ///
  /// The order statistics come from successive quickselects (expected O(n) for all seven)
  /// instead of a full sort: this runs once per image of both domains.
  public static func summarize(_ pixels: [Float]) -> [String: Double] {
    var values = pixels.filter(\.isFinite)
    var out: [String: Double] = [
      "mean": Descriptive.mean(values), "std": Descriptive.standardDeviation(values, ddof: 0),
    ]
    let n = values.count
    guard n > 0 else {
      for (name, _) in percentiles { out[name] = .nan }
      return out
    }
    values.withUnsafeMutableBufferPointer { v in
      var low = 0  // everything before `low` is ≤ every element from `low` on
      for (name, p) in percentiles {
        let h = Double(n - 1) * p
        let k = Int(h.rounded(.down))
        let a = Double(select(v, k, from: max(low, 0), to: n))
        low = k
        var b = a
        if k + 1 < n {
          var m = v[k + 1]
          for i in (k + 2)..<max(n, k + 2) where v[i] < m { m = v[i] }
          b = Double(m)
        }
        out[name] = a + (h - Double(k)) * (b - a)
      }
    }
    return out
  }

  /// Rearranges v[from..<to] so that v[k] holds the value a sort would put there, smaller or
  /// equal values before it and larger or equal after (Hoare partition, median-of-three).
  static func select(_ v: UnsafeMutableBufferPointer<Float>, _ k: Int, from: Int, to: Int) -> Float
  {
    var lo = from
    var hi = to - 1
    while lo < hi {
      let mid = lo + (hi - lo) / 2
      // Median of three as pivot.
      if v[mid] < v[lo] { v.swapAt(mid, lo) }
      if v[hi] < v[lo] { v.swapAt(hi, lo) }
      if v[hi] < v[mid] { v.swapAt(hi, mid) }
      let pivot = v[mid]
      var i = lo
      var j = hi
      while i <= j {
        while v[i] < pivot { i += 1 }
        while v[j] > pivot { j -= 1 }
        if i <= j {
          v.swapAt(i, j)
          i += 1
          j -= 1
        }
      }
      if k <= j {
        hi = j
      } else if k >= i {
        lo = i
      } else {
        return v[k]
      }
    }
    return v[k]
  }

  /// Compares each statistic present in both domains with KS and the 1-D Wasserstein distance
  /// (with a percentile bootstrap interval), sorted by statistic name.
  ///
  /// With `clusters` (patient per image of each side), the KS p-values come from relabelling
  /// whole patients (`permutations` times) instead of assuming independent images.
  public static func compare(
    source: [[String: Double]], target: [[String: Double]], bootstrap: Bootstrap.Plan = .init(),
    clusters: (source: [String], target: [String])? = nil, permutations: Int = 1000
  ) throws -> [IntensityComparison] {
    let names = Set(source.flatMap(\.keys)).intersection(target.flatMap(\.keys)).sorted()
    var out = [IntensityComparison]()
    for name in names {
      let xi = source.indices.filter { source[$0][name]?.isFinite ?? false }
      let yi = target.indices.filter { target[$0][name]?.isFinite ?? false }
      let x = xi.map { source[$0][name]! }
      let y = yi.map { target[$0][name]! }
      guard !x.isEmpty, !y.isEmpty else { continue }
      let ks: KSResult
      if let clusters, clusters.source.count == source.count,
        clusters.target.count == target.count
      {
        ks = try TwoSample.kolmogorovSmirnov(
          x, y, xClusters: xi.map { clusters.source[$0] },
          yClusters: yi.map { clusters.target[$0] },
          permutations: permutations, seed: bootstrap.seed &+ UInt64(out.count))
      } else {
        ks = try TwoSample.kolmogorovSmirnov(x, y)
      }
      let w = try Bootstrap.estimate(counts: x.count, y.count, plan: bootstrap) { i, j in
        try TwoSample.wasserstein1(i.map { x[$0] }, j.map { y[$0] })
      }
      out.append(
        IntensityComparison(
          statistic: name, sourceMedian: Descriptive.median(x), targetMedian: Descriptive.median(y),
          ks: ks, wasserstein: w))
    }
    return out
  }

  /// Compares two pooled histograms over the same bins.
  public static func compare(source: IntensityHistogram, target: IntensityHistogram) throws
    -> HistogramComparison
  {
    guard source.counts.count == target.counts.count, source.lower == target.lower,
      source.upper == target.upper
    else {
      throw MetricsError.invalidParameter(
        name: "histograms", value: "\(source.counts.count) vs \(target.counts.count) bins",
        reason: "source and target histograms must share range and bin count")
    }
    let p = source.probabilities
    let q = target.probabilities
    var tv = 0.0
    var cdfGap = 0.0
    var w = 0.0
    let width = (source.upper - source.lower) / Double(p.count)
    for k in p.indices {
      tv += abs(p[k] - q[k])
      cdfGap += p[k] - q[k]
      w += abs(cdfGap) * width
    }
    return HistogramComparison(
      source: source, target: target, totalVariation: tv / 2, wasserstein: w)
  }
}

/// One per-image statistic compared between domains.
public struct IntensityComparison: Codable, Sendable, Equatable {
  /// Statistic name ("mean", "std", "p50", …).
  public var statistic: String
  /// Median of the statistic over source images.
  public var sourceMedian: Double
  /// Median of the statistic over target images.
  public var targetMedian: Double
  /// Two-sample KS test of the per-image values.
  public var ks: KSResult
  /// 1-D Wasserstein distance of the per-image values, with bootstrap interval.
  public var wasserstein: Estimate
}

/// Pooled intensity histograms of both domains and their distance.
public struct HistogramComparison: Codable, Sendable, Equatable {
  /// Source histogram.
  public var source: IntensityHistogram
  /// Target histogram.
  public var target: IntensityHistogram
  /// Total variation ½Σ|p − q| between the binned distributions.
  public var totalVariation: Double
  /// Wasserstein-1 distance between the binned distributions (bin-width resolution).
  public var wasserstein: Double
}
