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
  /// (population) and the percentiles in `percentiles` (type-7 quantiles).
  public static func summarize(_ pixels: [Float]) -> [String: Double] {
    let values = pixels.lazy.filter { $0.isFinite }.map(Double.init).sorted()
    var out: [String: Double] = [
      "mean": Descriptive.mean(values), "std": Descriptive.standardDeviation(values, ddof: 0),
    ]
    for (name, p) in percentiles { out[name] = Descriptive.quantile(sorted: values, p) }
    return out
  }

  /// Compares each statistic present in both domains with KS and the 1-D Wasserstein distance
  /// (with a percentile bootstrap interval), sorted by statistic name.
  public static func compare(
    source: [[String: Double]], target: [[String: Double]], bootstrap: Bootstrap.Plan = .init()
  ) throws -> [IntensityComparison] {
    let names = Set(source.flatMap(\.keys)).intersection(target.flatMap(\.keys)).sorted()
    var out = [IntensityComparison]()
    for name in names {
      let x = source.compactMap { $0[name] }.filter(\.isFinite)
      let y = target.compactMap { $0[name] }.filter(\.isFinite)
      guard !x.isEmpty, !y.isEmpty else { continue }
      let ks = try TwoSample.kolmogorovSmirnov(x, y)
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
    let p = source.probabilities, q = target.probabilities
    var tv = 0.0, cdfGap = 0.0, w = 0.0
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
