import Foundation
import Metrics

/// The report's view of Metrics' replicate statistics: means over seeds with Student-t
/// intervals, and paired t-tests between arms over the same seeds.
///
/// Every number comes from `Metrics.PairedComparison` (checked against scipy's t quantiles and
/// closed forms in MetricsTests); this only drops non-finite values (failed runs) and maps the
/// result onto the report's records.
public enum ReportStatistics {
  /// Mean ± t-interval of `values` (nil interval with fewer than two values).
  public static func meanInterval(_ values: [Double], confidence: Double) -> Interval? {
    let v = values.filter(\.isFinite)
    guard !v.isEmpty else { return nil }
    let estimate = PairedComparison.mean(v, level: confidence)
    return Interval(
      mean: estimate.value, lower: estimate.interval?.lower, upper: estimate.interval?.upper,
      n: v.count)
  }

  /// Paired t-test of `a − b` (same seeds): mean difference, its interval and two-sided p.
  /// With zero variance the interval collapses and p is nil (the test is undefined).
  public static func pairedTest(_ a: [Double], _ b: [Double], confidence: Double) -> PairedTest? {
    precondition(a.count == b.count, "pairedTest needs equally many values on both sides.")
    let pairs = zip(a, b).filter { ($0 - $1).isFinite }
    guard !pairs.isEmpty,
      let r = try? PairedComparison.difference(
        pairs.map(\.0), pairs.map(\.1), level: confidence,
        bootstrap: Bootstrap.Plan(replicates: 0))
    else { return nil }
    return PairedTest(
      difference: r.meanDifference, lower: r.tInterval?.lower, upper: r.tInterval?.upper,
      pValue: r.pValue, t: r.tStatistic, n: r.count)
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
