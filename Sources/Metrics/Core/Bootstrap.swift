import Randomness

/// A two-sided confidence interval and how it was obtained.
public struct ConfidenceInterval: Codable, Sendable, Equatable {
  /// Lower bound.
  public var lower: Double
  /// Upper bound.
  public var upper: Double
  /// Nominal coverage, e.g. 0.95.
  public var level: Double
  /// How the interval was computed ("percentile bootstrap (B=1000)", "DeLong", …).
  public var method: String

  /// An interval with the given bounds.
  public init(lower: Double, upper: Double, level: Double, method: String) {
    self.lower = lower
    self.upper = upper
    self.level = level
    self.method = method
  }
}

/// A point estimate with its confidence interval: the one interval estimate of MedTransfer
/// (evaluations, stored study results and shift analyses all use it).
public struct Estimate: Codable, Sendable, Equatable {
  /// The statistic on the full sample.
  public var value: Double
  /// Its confidence interval (nil when none was requested or it cannot be computed).
  public var interval: ConfidenceInterval?

  /// An estimate with an optional interval.
  public init(value: Double, interval: ConfidenceInterval?) {
    self.value = value
    self.interval = interval
  }

  /// Lower bound of the interval, if there is one.
  public var lower: Double? { interval?.lower }
  /// Upper bound of the interval, if there is one.
  public var upper: Double? { interval?.upper }

  private enum CodingKeys: String, CodingKey {
    case value, interval
    // The flat form of study databases and `summary.json` files written before the interval
    // types were merged: {"value", "lower", "upper", "method"} with a 95% interval.
    case lower, upper, method
  }

  /// Reads both the current form and the flat form older study databases hold.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    value = try c.decode(Double.self, forKey: .value)
    if c.contains(.interval) {
      interval = try c.decodeIfPresent(ConfidenceInterval.self, forKey: .interval)
    } else if let lower = try c.decodeIfPresent(Double.self, forKey: .lower),
      let upper = try c.decodeIfPresent(Double.self, forKey: .upper)
    {
      let method = try c.decodeIfPresent(String.self, forKey: .method) ?? "unrecorded"
      interval = ConfidenceInterval(lower: lower, upper: upper, level: 0.95, method: method)
    } else {
      interval = nil
    }
  }

  /// Writes the current form.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(value, forKey: .value)
    try c.encodeIfPresent(interval, forKey: .interval)
  }
}

/// Seeded percentile bootstrap.
///
/// Percentile intervals take the (α/2, 1 − α/2) type-7 quantiles of the replicate statistics.
/// Replicates whose statistic is not finite (e.g. a resample that lost a class) are dropped and
/// the count kept is reported in the method string.
public enum Bootstrap {
  /// Resampling plan: how many replicates, the seed, and the confidence level.
  public struct Plan: Codable, Sendable, Equatable {
    /// Number of bootstrap replicates (0 disables the interval).
    public var replicates: Int
    /// Seed of the resampling generator.
    public var seed: UInt64
    /// Confidence level, e.g. 0.95.
    public var level: Double

    /// A plan; defaults B = 1000, seed 0, 95 %.
    public init(replicates: Int = 1000, seed: UInt64 = 0, level: Double = 0.95) {
      self.replicates = replicates
      self.seed = seed
      self.level = level
    }
  }

  /// The percentile interval of `replicates` at `level`.
  public static func percentileInterval(
    _ replicates: [Double], level: Double, requested: Int? = nil
  ) -> ConfidenceInterval? {
    let finite = replicates.filter { $0.isFinite }.sorted()
    if finite.isEmpty { return nil }
    let alpha = 1 - level
    let b = requested ?? replicates.count
    let kept = finite.count == b ? "" : ", \(finite.count) finite"
    return ConfidenceInterval(
      lower: Descriptive.quantile(sorted: finite, alpha / 2),
      upper: Descriptive.quantile(sorted: finite, 1 - alpha / 2), level: level,
      method: "percentile bootstrap (B=\(b)\(kept))")
  }

  /// Indices of a resample with replacement of `0..<n`.
  public static func resample(_ n: Int, using generator: inout SeededGenerator) -> [Int] {
    (0..<n).map { _ in generator.below(n) }
  }

  /// Bootstraps a one-sample statistic: resamples `0..<n` with replacement `plan.replicates`
  /// times and returns the estimate on the full sample with its percentile interval.
  public static func estimate(
    count n: Int, plan: Plan, statistic: ([Int]) throws -> Double
  ) rethrows -> Estimate {
    let value = try statistic(Array(0..<n))
    guard plan.replicates > 0, n > 0 else { return Estimate(value: value, interval: nil) }
    var generator = SeededGenerator(seed: plan.seed)
    var stats = [Double]()
    stats.reserveCapacity(plan.replicates)
    for _ in 0..<plan.replicates { stats.append(try statistic(resample(n, using: &generator))) }
    return Estimate(
      value: value, interval: percentileInterval(stats, level: plan.level))
  }

  /// Bootstraps a two-sample statistic: resamples each sample independently (source and target
  /// stay separate, so the sample sizes are fixed).
  public static func estimate(
    counts n1: Int, _ n2: Int, plan: Plan, statistic: ([Int], [Int]) throws -> Double
  ) rethrows -> Estimate {
    let value = try statistic(Array(0..<n1), Array(0..<n2))
    guard plan.replicates > 0, n1 > 0, n2 > 0 else { return Estimate(value: value, interval: nil) }
    var generator = SeededGenerator(seed: plan.seed)
    var stats = [Double]()
    stats.reserveCapacity(plan.replicates)
    for _ in 0..<plan.replicates {
      let a = resample(n1, using: &generator)
      let b = resample(n2, using: &generator)
      stats.append(try statistic(a, b))
    }
    return Estimate(value: value, interval: percentileInterval(stats, level: plan.level))
  }
}
