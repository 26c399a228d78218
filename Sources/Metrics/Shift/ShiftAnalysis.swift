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
  /// MMD² with permutation p-value and bootstrap interval (nil when not asked for).
  public var mmd: MMDResult?
  /// Proxy A-distance with its interval (nil when not asked for).
  public var proxyADistance: ProxyADistanceResult?
  /// Fréchet distance between Gaussian fits, with a basic bootstrap interval (see
  /// `GaussianDistances.distancesWithIntervals`; nil when not asked for).
  public var frechetDistance: Estimate?
  /// CORAL distance, with a basic bootstrap interval (nil when not asked for).
  public var coralDistance: Estimate?
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
  /// 2-D picture data (PCA or t-SNE), if requested.
  public var embedding: Projection2D?
  /// The settings that produced this report.
  public var options: ShiftAnalysis.Options
  /// How to read the numbers: what each interval describes and its known limits.
  public var notes: [String]
}

/// Measures the domain shift between a source and a target sample in one call.
///
/// Feature extraction happens elsewhere (Backbones/Datasets); this takes the pooled feature
/// matrices plus optional per-image intensity summaries, header rows and labels.
public enum ShiftAnalysis {
  /// One analysis `run` can compute (the names study specs use in `shift.analyses`).
  public enum Kind: String, Codable, Sendable, Hashable, CaseIterable {
    /// MMD² with its permutation test and bootstrap interval.
    case mmd
    /// Proxy A-distance of a logistic domain classifier.
    case proxyADistance = "proxy-a-distance"
    /// Fréchet distance between Gaussian fits of the features.
    case frechet
    /// CORAL distance (covariance difference).
    case coral
    /// Per-image intensity statistics (KS and Wasserstein) and pooled histograms.
    case intensity
    /// The acquisition-attribute table.
    case headers
    /// The 2-D picture of the features (PCA or t-SNE).
    case embedding
    /// LogME of the target features on the target labels.
    case logme

    /// Whether the analysis needs network features (the others need only pixels or headers).
    public var needsFeatures: Bool {
      switch self {
      case .mmd, .proxyADistance, .frechet, .coral, .embedding, .logme: return true
      case .intensity, .headers: return false
      }
    }
  }

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
    /// Whether to compute the 2-D embedding picture.
    public var projection: Bool
    /// How the embedding is computed: "pca" (default) or "tsne" (exact t-SNE seeded by
    /// `seed`, O(n²) per iteration).
    public var embeddingMethod: String
    /// Master seed.
    public var seed: UInt64
    /// MMD permutations exchange images (or patients) only within a class label (both sides
    /// need labels): for samples drawn per class. Nil (older documents) means off.
    public var permuteWithinLabels: Bool?
    /// The analyses to compute (nil: every one); the others are left out of the report.
    public var analyses: [Kind]?

    /// Whether `kind` is to be computed.
    public func includes(_ kind: Kind) -> Bool { analyses?.contains(kind) ?? true }

    /// Defaults: B = 1000 permutations, 1000 bootstrap replicates (50 for covariance
    /// distances), 95 % intervals, α = 0.05, 5 folds, λ = 1e-2, projection on, seed 0.
    public init(
      permutations: Int = 1000, bootstrapReplicates: Int = 1000,
      covarianceBootstrapReplicates: Int = 50, level: Double = 0.95, alpha: Double = 0.05,
      folds: Int = 5, domainClassifierL2: Double = 1e-2, projection: Bool = true,
      embeddingMethod: String = "pca", seed: UInt64 = 0, permuteWithinLabels: Bool = false,
      analyses: [Kind]? = nil
    ) {
      self.analyses = analyses
      self.permuteWithinLabels = permuteWithinLabels
      self.embeddingMethod = embeddingMethod
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
    /// Patient (or other cluster) of each row, if known: rows of one patient are not
    /// independent, so the MMD and KS permutations then relabel whole patients and the
    /// proxy A-distance folds keep patients together.
    public var clusters: [String]?

    /// A domain; only `features` is required.
    public init(
      name: String, features: FeatureMatrix, intensities: [[String: Double]] = [],
      histogram: IntensityHistogram? = nil, headers: [[String: String]] = [], labels: [Int]? = nil,
      clusters: [String]? = nil
    ) {
      self.clusters = clusters
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
    let s = source.features
    let t = target.features
    guard s.columns == t.columns else {
      throw MetricsError.sizeMismatch(
        input: "target feature dimension", expected: s.columns, actual: t.columns)
    }
    func plan(_ stream: UInt64, _ replicates: Int? = nil) -> Bootstrap.Plan {
      Bootstrap.Plan(
        replicates: replicates ?? options.bootstrapReplicates,
        seed: options.seed &+ stream &* 0x1000_0001, level: options.level)
    }
    var clusters: (source: [String], target: [String])?
    if let cs = source.clusters, let ct = target.clusters {
      guard cs.count == s.rows else {
        throw MetricsError.sizeMismatch(
          input: "source clusters", expected: s.rows, actual: cs.count)
      }
      guard ct.count == t.rows else {
        throw MetricsError.sizeMismatch(
          input: "target clusters", expected: t.rows, actual: ct.count)
      }
      // Clustering only helps with at least 2 clusters a side; otherwise rows are the unit.
      if Set(cs).count >= 2 && Set(ct).count >= 2 { clusters = (cs, ct) }
    }
    var strata: (source: [Int], target: [Int])?
    if options.permuteWithinLabels == true {
      guard let ls = source.labels, let lt = target.labels else {
        throw MetricsError.invalidParameter(
          name: "permuteWithinLabels", value: "true",
          reason: "needs class labels on both sides; drop it or give both samples labels")
      }
      strata = (ls, lt)
    }
    let mmd =
      try options.includes(.mmd)
      ? MMD.test(
        source: s, target: t,
        options: MMD.Options(
          permutations: options.permutations, seed: options.seed, bootstrap: plan(1),
          clusters: clusters, strata: strata)) : nil
    let pad =
      try options.includes(.proxyADistance)
      ? ProxyADistance.compute(
        source: s, target: t,
        options: ProxyADistance.Options(
          // Tiny samples (a few images a side) get fewer folds rather than no analysis.
          folds: max(2, min(options.folds, s.rows, t.rows)),
          classifier: LogisticRegression.Options(
            l2: options.domainClassifierL2, maxIterations: 200),
          seed: options.seed &+ 2, bootstrap: plan(2)),
        clusters: clusters) : nil
    let covariance =
      try options.includes(.frechet) || options.includes(.coral)
      ? GaussianDistances.distancesWithIntervals(
        source: s, target: t, bootstrap: plan(3, options.covarianceBootstrapReplicates)) : nil
    var intensity = [IntensityComparison]()
    var histograms: HistogramComparison?
    if options.includes(.intensity) {
      if !source.intensities.isEmpty && !target.intensities.isEmpty {
        intensity = try IntensityShift.compare(
          source: source.intensities, target: target.intensities, bootstrap: plan(5),
          clusters: clusters, permutations: options.permutations)
      }
      if let hs = source.histogram, let ht = target.histogram {
        histograms = try IntensityShift.compare(source: hs, target: ht)
      }
    }
    var headers: HeaderComparison?
    if options.includes(.headers) && (!source.headers.isEmpty || !target.headers.isEmpty) {
      headers = HeaderComparison(
        domains: [(source.name, source.headers), (target.name, target.headers)],
        attributes: headerAttributes)
    }
    var labels: LabelShiftResult?
    var logME: LogMEResult?
    let k =
      classCount
      ?? max(
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
      if options.includes(.logme) {
        logME = try LogME.score(features: t, labels: lt, classCount: k)
      }
    }
    var family: [(name: String, pValue: Double)] = []
    if let mmd, options.permutations > 0 { family.append(("MMD permutation test", mmd.pValue)) }
    for comparison in intensity {
      family.append(("KS intensity \(comparison.statistic)", comparison.ks.pValue))
    }
    let tests = MultipleTesting.holm(named: family, alpha: options.alpha)
    var embedding: Projection2D?
    if options.projection && options.includes(.embedding) {
      switch options.embeddingMethod {
      case "pca": embedding = try Projection.pca(source: s, target: t)
      case "tsne":
        embedding = try TSNE.embed(source: s, target: t, options: TSNE.Options(seed: options.seed))
      default:
        throw MetricsError.invalidParameter(
          name: "embeddingMethod", value: options.embeddingMethod, reason: "must be pca or tsne")
      }
    }
    return ShiftReport(
      schemaVersion: 1, sourceName: source.name, targetName: target.name, sourceCount: s.rows,
      targetCount: t.rows, featureDimension: s.columns, mmd: mmd, proxyADistance: pad,
      frechetDistance: options.includes(.frechet) ? covariance?.frechet : nil,
      coralDistance: options.includes(.coral) ? covariance?.coral : nil, intensity: intensity,
      histograms: histograms, headers: headers, labels: labels, targetLogME: logME, tests: tests,
      alpha: options.alpha, shiftDetected: tests.contains { $0.rejected }, embedding: embedding,
      options: options,
      notes: notes(
        sourceRows: s.rows, targetRows: t.rows, dimension: s.columns, options: options,
        clustered: clusters != nil,
        sameClassShares: Self.sameClassShares(source.labels, target.labels)))
  }
}

extension ShiftAnalysis {
  /// The reading notes attached to every report.
  static func notes(
    sourceRows n1: Int, targetRows n2: Int, dimension d: Int, options: Options, clustered: Bool,
    sameClassShares: Bool = false
  ) -> [String] {
    var notes = [
      clustered
        ? "Rows were grouped by patient: the MMD and KS permutations relabel whole patients, "
          + "the MMD bootstrap resamples patients, and the proxy A-distance folds keep each "
          + "patient's images together (images of one patient are not independent)."
        : "No patient grouping was given: every test treats images as independent, which "
          + "overstates the evidence when several images come from one patient.",
      "MMD² is the unbiased U-statistic; its p-value is a permutation test with "
        + "\(options.permutations) relabellings, (1 + #{≥ observed})/(1 + B); its interval is a "
        + "percentile bootstrap resampling each side.",
      "Proxy A-distance = 2(1 − 2ε), ε the balanced \(options.folds)-fold held-out error of an "
        + "L2 logistic domain classifier; its interval resamples the held-out predictions (the "
        + "classifiers are not refitted), so it reflects test-set noise only.",
      "Only the MMD permutation test and the intensity KS tests enter the Holm family; "
        + "distances without a test are descriptive.",
    ]
    let nMin = min(n1, n2)
    var covariance =
      "Fréchet and CORAL are plug-in distances between Gaussian fits (covariances over n − 1). "
      + "They are biased upward by about Tr Σ₁/n₁ + Tr Σ₂/n₂, so two samples of one "
      + "distribution do not give 0: compare them only between sample pairs of similar sizes "
      + "(here n = \(n1) vs \(n2), d = \(d))."
    if options.covarianceBootstrapReplicates > 0 {
      covariance +=
        " Their intervals are percentile bootstrap intervals from "
        + "\(options.covarianceBootstrapReplicates) replicates, shifted by the bootstrap bias "
        + "(median replicate − estimate) because resamples repeat rows and are more biased "
        + "than the estimate; they describe sampling variability, not the bias itself, "
        + "and are not tests."
    } else {
      covariance += " No interval was computed (covariance bootstrap disabled)."
    }
    if nMin < d {
      covariance +=
        " With n < d the covariances are singular (rank ≤ n − 1); the matrix square root "
        + "is evaluated exactly in the n-dimensional sample space."
    }
    notes.append(covariance)
    if options.permuteWithinLabels == true {
      notes.append(
        "MMD permutations exchanged images (or patients) only within a class label: the test "
          + "asks whether the two sides differ within classes, as for samples drawn per class.")
    } else if sameClassShares {
      notes.append(
        "Both samples hold every class in the same share. If they were drawn per class (a "
          + "balanced design), relabelling across classes unbalances the permuted groups and "
          + "the MMD test is conservative (p near 1 under no shift); permuting within labels "
          + "(shift --permute-within-labels) keeps the design.")
    }
    return notes
  }

  /// Whether two label vectors hold every class in the same share (to 1e-9), with more than one
  /// class: the sign of a per-class (balanced) sampling design.
  static func sameClassShares(_ a: [Int]?, _ b: [Int]?) -> Bool {
    guard let a, let b, !a.isEmpty, !b.isEmpty else { return false }
    func shares(_ v: [Int]) -> [Int: Double] {
      v.reduce(into: [:]) { $0[$1, default: 0] += 1 / Double(v.count) }
    }
    let (sa, sb) = (shares(a), shares(b))
    return sa.count > 1 && Set(sa.keys) == Set(sb.keys)
      && sa.allSatisfy { abs($0.value - sb[$0.key]!) < 1e-9 }
  }
}
