import Foundation

/// Everything one source-versus-target shift analysis measured; what `medtransfer shift --json`
/// prints.
public struct ShiftReport: Codable, Sendable, Equatable {
  /// Version of this document's layout.
  public var schemaVersion: Int
  /// Name of the source domain.
  public var sourceName: String
  /// Name of the target domain.
  public var targetName: String
  /// Source feature rows.
  public var sourceCount: Int
  /// Target feature rows.
  public var targetCount: Int
  /// Feature dimension.
  public var featureDimension: Int
  /// MMD² with permutation p-value and bootstrap interval.
  public var mmd: MMDResult
  /// Proxy A-distance with its interval.
  public var proxyADistance: ProxyADistanceResult
  /// Fréchet distance between Gaussian fits, with a basic bootstrap interval (see
  /// `GaussianDistances.distancesWithIntervals`).
  public var frechetDistance: Estimate
  /// CORAL distance, with a basic bootstrap interval.
  public var coralDistance: Estimate
  /// Per-image intensity statistics compared (empty without intensity input).
  public var intensity: [IntensityComparison]
  /// Pooled intensity histograms, if both were given.
  public var histograms: HistogramComparison?
  /// Acquisition-attribute table, if header rows were given.
  public var headers: HeaderComparison?
  /// Class-prior shift, if both label sets were given.
  public var labels: LabelShiftResult?
  /// LogME of the target features on the target labels, if target labels were given.
  public var targetLogME: LogMEResult?
  /// The tests reported together, Holm-corrected as one family.
  public var tests: [TestResult]
  /// Family-wise error level of `tests`.
  public var alpha: Double
  /// Whether any test in the family is rejected after Holm correction.
  public var shiftDetected: Bool
  /// 2-D PCA picture data, if requested.
  public var embedding: Projection2D?
  /// The settings that produced this report.
  public var options: ShiftAnalysis.Options
}

/// Measures the domain shift between a source and a target sample in one call.
///
/// Feature extraction happens elsewhere (Backbones/Datasets); this takes the pooled feature
/// matrices plus optional per-image intensity summaries, header rows and labels.
public enum ShiftAnalysis {
  /// Settings of a shift analysis. All randomness derives from `seed`.
  public struct Options: Codable, Sendable, Equatable {
    /// MMD permutations B.
    public var permutations: Int
    /// Bootstrap replicates for MMD, PAD, intensity and label intervals (0 disables).
    public var bootstrapReplicates: Int
    /// Bootstrap replicates for the Fréchet and CORAL intervals, which refit covariances per
    /// replicate and so cost far more (0 disables).
    public var covarianceBootstrapReplicates: Int
    /// Confidence level of all intervals.
    public var level: Double
    /// Family-wise α for the Holm-corrected tests.
    public var alpha: Double
    /// Folds of the proxy A-distance classifier.
    public var folds: Int
    /// L2 strength of the proxy A-distance classifier.
    public var domainClassifierL2: Double
    /// Whether to compute the 2-D PCA projection.
    public var projection: Bool
    /// Master seed.
    public var seed: UInt64

    /// Defaults: B = 1000 permutations, 1000 bootstrap replicates (50 for covariance
    /// distances), 95 % intervals, α = 0.05, 5 folds, λ = 1e-2, projection on, seed 0.
    public init(
      permutations: Int = 1000, bootstrapReplicates: Int = 1000,
      covarianceBootstrapReplicates: Int = 50, level: Double = 0.95, alpha: Double = 0.05,
      folds: Int = 5, domainClassifierL2: Double = 1e-2, projection: Bool = true, seed: UInt64 = 0
    ) {
      self.permutations = permutations
      self.bootstrapReplicates = bootstrapReplicates
      self.covarianceBootstrapReplicates = covarianceBootstrapReplicates
      self.level = level
      self.alpha = alpha
      self.folds = folds
      self.domainClassifierL2 = domainClassifierL2
      self.projection = projection
      self.seed = seed
    }
  }

  /// The data of one domain.
  public struct Domain: Sendable {
    /// Display name ("site-A").
    public var name: String
    /// Pooled backbone features, one row per image.
    public var features: FeatureMatrix
    /// Per-image intensity summaries (`IntensityShift.summarize`), possibly empty.
    public var intensities: [[String: Double]]
    /// Pooled intensity histogram, if collected.
    public var histogram: IntensityHistogram?
    /// Header attribute rows (one per image or series), possibly empty.
    public var headers: [[String: String]]
    /// Class labels of the rows, if known.
    public var labels: [Int]?

    /// A domain; only `features` is required.
    public init(
      name: String, features: FeatureMatrix, intensities: [[String: Double]] = [],
      histogram: IntensityHistogram? = nil, headers: [[String: String]] = [], labels: [Int]? = nil
    ) {
      self.name = name
      self.features = features
      self.intensities = intensities
      self.histogram = histogram
      self.headers = headers
      self.labels = labels
    }
  }

  /// Runs every shift measurement between `source` and `target`.
  ///
  /// - Parameters:
  ///   - headerAttributes: attributes to tabulate (nil = every key seen).
  ///   - classCount: number of classes for label shift and LogME (nil = max label + 1).
  public static func run(
    source: Domain, target: Domain, headerAttributes: [String]? = nil, classCount: Int? = nil,
    options: Options = Options()
  ) throws -> ShiftReport {
    let s = source.features, t = target.features
    guard s.columns == t.columns else {
      throw MetricsError.sizeMismatch(
        input: "target feature dimension", expected: s.columns, actual: t.columns)
    }
    func plan(_ stream: UInt64, _ replicates: Int? = nil) -> Bootstrap.Plan {
      Bootstrap.Plan(
        replicates: replicates ?? options.bootstrapReplicates,
        seed: options.seed &+ stream &* 0x1000_0001, level: options.level)
    }
    let mmd = try MMD.test(
      source: s, target: t,
      options: MMD.Options(permutations: options.permutations, seed: options.seed, bootstrap: plan(1)))
    let pad = try ProxyADistance.compute(
      source: s, target: t,
      options: ProxyADistance.Options(
        folds: options.folds,
        classifier: LogisticRegression.Options(l2: options.domainClassifierL2, maxIterations: 200),
        seed: options.seed &+ 2, bootstrap: plan(2)))
    let covariance = try GaussianDistances.distancesWithIntervals(
      source: s, target: t, bootstrap: plan(3, options.covarianceBootstrapReplicates))
    var intensity = [IntensityComparison]()
    if !source.intensities.isEmpty && !target.intensities.isEmpty {
      intensity = try IntensityShift.compare(
        source: source.intensities, target: target.intensities, bootstrap: plan(5))
    }
    var histograms: HistogramComparison?
    if let hs = source.histogram, let ht = target.histogram {
      histograms = try IntensityShift.compare(source: hs, target: ht)
    }
    var headers: HeaderComparison?
    if !source.headers.isEmpty || !target.headers.isEmpty {
      headers = HeaderComparison(
        domains: [(source.name, source.headers), (target.name, target.headers)],
        attributes: headerAttributes)
    }
    var labels: LabelShiftResult?
    var logME: LogMEResult?
    let k = classCount ?? max(
      (source.labels?.max() ?? -1) + 1, (target.labels?.max() ?? -1) + 1)
    if let ls = source.labels {
      guard ls.count == s.rows else {
        throw MetricsError.sizeMismatch(input: "source labels", expected: s.rows, actual: ls.count)
      }
    }
    if let lt = target.labels {
      guard lt.count == t.rows else {
        throw MetricsError.sizeMismatch(input: "target labels", expected: t.rows, actual: lt.count)
      }
      if let ls = source.labels {
        labels = try LabelShift.compare(source: ls, target: lt, classCount: k, bootstrap: plan(6))
      }
      logME = try LogME.score(features: t, labels: lt, classCount: k)
    }
    var family: [(name: String, pValue: Double)] = []
    if options.permutations > 0 { family.append(("MMD permutation test", mmd.pValue)) }
    for comparison in intensity {
      family.append(("KS intensity \(comparison.statistic)", comparison.ks.pValue))
    }
    let tests = MultipleTesting.holm(named: family, alpha: options.alpha)
    let embedding = options.projection ? try Projection.pca(source: s, target: t) : nil
    return ShiftReport(
      schemaVersion: 1, sourceName: source.name, targetName: target.name, sourceCount: s.rows,
      targetCount: t.rows, featureDimension: s.columns, mmd: mmd, proxyADistance: pad,
      frechetDistance: covariance.frechet, coralDistance: covariance.coral, intensity: intensity,
      histograms: histograms, headers: headers, labels: labels, targetLogME: logME, tests: tests,
      alpha: options.alpha, shiftDetected: tests.contains { $0.rejected }, embedding: embedding,
      options: options)
  }
}

/// JSON encoding shared by everything that prints Metrics results.
public enum MetricsJSON {
  /// A JSON encoder with sorted keys; non-finite numbers (which Metrics avoids in its results
  /// but a caller's input could produce) are written as the strings "NaN", "Infinity",
  /// "-Infinity" instead of failing.
  public static func encoder(pretty: Bool = true) -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return encoder
  }

  /// The matching decoder.
  public static func decoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return decoder
  }
}
