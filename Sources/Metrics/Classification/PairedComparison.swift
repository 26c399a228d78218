/// McNemar's test of two classifiers' accuracy on the same samples.
public struct McNemarResult: Codable, Sendable, Equatable {
  /// Samples model A got right and model B wrong.
  public var onlyACorrect: Int
  /// Samples model B got right and model A wrong.
  public var onlyBCorrect: Int
  /// Accuracy of A minus accuracy of B.
  public var accuracyDifference: Double
  /// Exact two-sided binomial p-value, min(1, 2·P(X ≤ min(b, c))), X ~ Bin(b + c, ½).
  public var exactPValue: Double
  /// Mid-p variant: exact p − P(X = min(b, c)) (less conservative; Fagerland et al. 2013).
  public var midPValue: Double
}

/// Difference between two arms over paired replicates (e.g. the same seeds).
public struct PairedDifference: Codable, Sendable, Equatable {
  /// Number of pairs.
  public var count: Int
  /// Mean of aᵢ − bᵢ.
  public var meanDifference: Double
  /// Standard deviation of the differences (n − 1); nil for a single pair.
  public var standardDeviation: Double?
  /// Student-t interval of the mean difference (nil for fewer than 2 pairs).
  public var tInterval: ConfidenceInterval?
  /// Paired t statistic (nil for a single pair, or when every difference is the same).
  public var tStatistic: Double?
  /// Two-sided paired t-test p-value (nil for a single pair, or when every difference is the
  /// same: the test is undefined there).
  public var pValue: Double?
  /// Percentile bootstrap interval of the mean difference (pairs resampled together).
  public var bootstrapInterval: ConfidenceInterval?
}

/// Paired comparisons of two models or two arms.
public enum PairedComparison {
  /// McNemar's test from per-sample correctness of two models on the same test set.
  public static func mcNemar(correctA: [Bool], correctB: [Bool]) throws -> McNemarResult {
    guard correctA.count == correctB.count else {
      throw MetricsError.sizeMismatch(
        input: "correctB", expected: correctA.count, actual: correctB.count)
    }
    var b = 0
    var c = 0
    for (x, y) in zip(correctA, correctB) {
      if x && !y { b += 1 }
      if !x && y { c += 1 }
    }
    let n = b + c
    let k = min(b, c)
    let exact = n == 0 ? 1 : min(1, 2 * Distributions.binomialCDF(k, n: n, p: 0.5))
    let mid = n == 0 ? 1 : min(1, exact - Distributions.binomialPMF(k, n: n, p: 0.5))
    return McNemarResult(
      onlyACorrect: b, onlyBCorrect: c,
      accuracyDifference: correctA.isEmpty ? .nan : Double(b - c) / Double(correctA.count),
      exactPValue: exact, midPValue: mid)
  }

  /// The mean of independent replicates (e.g. one value per seed) with its Student-t interval
  /// (df = n − 1); no interval for a single value. With zero spread the interval collapses to
  /// the mean.
  public static func mean(_ values: [Double], level: Double = 0.95) -> Estimate {
    let n = values.count
    let mean = Descriptive.mean(values)
    guard n > 1 else { return Estimate(value: mean, interval: nil) }
    let se = Descriptive.standardDeviation(values) / Double(n).squareRoot()
    let q = Distributions.studentTQuantile(0.5 + level / 2, df: Double(n - 1))
    return Estimate(
      value: mean,
      interval: ConfidenceInterval(
        lower: mean - q * se, upper: mean + q * se, level: level, method: "t (df=\(n - 1))"))
  }

  /// Paired t-interval, t-test and bootstrap interval of mean(a − b) over paired replicates.
  ///
  /// With a single pair there is no interval and no test. When every pair differs by exactly
  /// the same amount the standard error is 0: the interval collapses to the mean and the test
  /// is undefined (t and p nil), rather than p = 0 from an infinite t.
  public static func difference(
    _ a: [Double], _ b: [Double], level: Double = 0.95, bootstrap: Bootstrap.Plan = .init()
  ) throws -> PairedDifference {
    guard a.count == b.count else {
      throw MetricsError.sizeMismatch(input: "paired values b", expected: a.count, actual: b.count)
    }
    guard !a.isEmpty else {
      throw MetricsError.tooFewSamples(input: "paired values", count: 0, minimum: 1)
    }
    let d = zip(a, b).map { $0 - $1 }
    let n = d.count
    let estimate = mean(d, level: level)
    let sd: Double? = n > 1 ? Descriptive.standardDeviation(d) : nil
    var tInterval = estimate.interval
    tInterval?.method = "paired t (df=\(n - 1))"
    var t: Double?
    var p: Double?
    if let sd, sd > 0 {
      t = estimate.value / (sd / Double(n).squareRoot())
      p = 2 * (1 - Distributions.studentTCDF(abs(t!), df: Double(n - 1)))
    }
    let boot = Bootstrap.estimate(count: n, plan: bootstrap) { idx in
      Descriptive.mean(idx.map { d[$0] })
    }
    return PairedDifference(
      count: n, meanDifference: estimate.value, standardDeviation: sd, tInterval: tInterval,
      tStatistic: t, pValue: p, bootstrapInterval: boot.interval)
  }
}
