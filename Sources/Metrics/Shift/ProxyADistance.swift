import Randomness

/// The proxy A-distance between two feature samples.
public struct ProxyADistanceResult: Codable, Sendable, Equatable {
  /// 2(1 − 2ε); 0 when the domains are indistinguishable, 2 when perfectly separable. Negative
  /// values (ε > ½) mean the classifier did worse than chance and are reported as measured.
  public var value: Double
  /// ε: the k-fold held-out balanced error of the linear domain classifier.
  public var heldOutError: Double
  /// Number of folds.
  public var folds: Int
  /// L2 strength of the domain classifier.
  public var l2: Double
  /// Percentile bootstrap interval of the PAD over the held-out predictions (the classifiers
  /// are not refitted, so the interval reflects test-sample noise only).
  public var interval: ConfidenceInterval?
}

/// Proxy A-distance (Ben-David et al. 2007): how well a linear classifier tells the domains
/// apart. The classifier is `LogisticRegression` on standardised features; ε is the held-out
/// error over k stratified folds (each sample predicted once, by a model that never saw it),
/// balanced over the two domains so unequal sample sizes cannot lower it.
public enum ProxyADistance {
  /// Settings of the domain classifier and its evaluation.
  public struct Options: Codable, Sendable, Equatable {
    /// Number of folds k (≥ 2).
    public var folds: Int
    /// Classifier settings (λ defaults to 1e-2 on standardised features).
    public var classifier: LogisticRegression.Options
    /// Seed of the fold assignment.
    public var seed: UInt64
    /// Bootstrap plan for the interval.
    public var bootstrap: Bootstrap.Plan

    /// Defaults: 5 folds, λ = 1e-2, seed 0, 1000 bootstrap replicates.
    public init(
      folds: Int = 5, classifier: LogisticRegression.Options = .init(maxIterations: 200),
      seed: UInt64 = 0, bootstrap: Bootstrap.Plan = .init()
    ) {
      self.folds = folds
      self.classifier = classifier
      self.seed = seed
      self.bootstrap = bootstrap
    }
  }

  /// Computes the proxy A-distance between `source` and `target`.
  ///
  /// With `clusters` (patient per row of each side), folds are dealt by patient, so no
  /// patient's slices are both trained on and held out (which would let the classifier
  /// recognise patients rather than domains).
  public static func compute(
    source: FeatureMatrix, target: FeatureMatrix, options: Options = Options(),
    clusters: (source: [String], target: [String])? = nil
  ) throws -> ProxyADistanceResult {
    let k = options.folds
    guard k >= 2 else {
      throw MetricsError.invalidParameter(name: "folds", value: "\(k)", reason: "must be ≥ 2")
    }
    guard source.rows >= k else {
      throw MetricsError.tooFewSamples(
        input: "proxy A-distance source", count: source.rows, minimum: k)
    }
    guard target.rows >= k else {
      throw MetricsError.tooFewSamples(
        input: "proxy A-distance target", count: target.rows, minimum: k)
    }
    let pooled = try source.stacked(with: target)
    let n = source.rows
    let total = pooled.rows
    let labels = (0..<total).map { $0 < n ? 0 : 1 }
    // Stratified folds: each domain shuffled and dealt round-robin.
    var generator = SeededGenerator(seed: options.seed, stream: [0xf01d])
    var fold = [Int](repeating: 0, count: total)
    if let clusters, clusters.source.count == n, clusters.target.count == total - n {
      for (offset, names) in [(0, clusters.source), (n, clusters.target)] {
        var rows: [String: [Int]] = [:]
        for (i, name) in names.enumerated() { rows[name, default: []].append(offset + i) }
        var groups = rows.keys.sorted()
        generator.shuffle(&groups)
        // Largest-first would balance better; round-robin keeps it simple and seeded.
        for (position, name) in groups.enumerated() {
          for index in rows[name]! { fold[index] = position % k }
        }
      }
    } else {
      for range in [0..<n, n..<total] {
        var indices = Array(range)
        generator.shuffle(&indices)
        for (position, index) in indices.enumerated() { fold[index] = position % k }
      }
    }
    var wrong = [Bool](repeating: false, count: total)
    for f in 0..<k {
      let train = (0..<total).filter { fold[$0] != f }
      let test = (0..<total).filter { fold[$0] == f }
      if test.isEmpty { continue }
      let trainLabels = train.map { labels[$0] }
      let nSource = Double(trainLabels.filter { $0 == 0 }.count)
      let nTarget = Double(trainLabels.count) - nSource
      // Balance the domains in the loss as in the error.
      let weights = trainLabels.map { $0 == 0 ? 0.5 / nSource : 0.5 / nTarget }
      let model = try LogisticRegression.fit(
        features: pooled.selecting(rows: train), labels: trainLabels, classCount: 2,
        sampleWeights: weights, options: options.classifier)
      let predicted = model.predict(pooled.selecting(rows: test))
      for (position, index) in test.enumerated() {
        wrong[index] = predicted[position] != labels[index]
      }
    }
    func balancedError(_ s: [Int], _ t: [Int]) -> Double {
      let es = Double(s.filter { wrong[$0] }.count) / Double(s.count)
      let et = Double(t.filter { wrong[n + $0] }.count) / Double(t.count)
      return 0.5 * (es + et)
    }
    let estimate = Bootstrap.estimate(counts: n, total - n, plan: options.bootstrap) { s, t in
      2 * (1 - 2 * balancedError(s, t))
    }
    let epsilon = balancedError(Array(0..<n), Array(0..<(total - n)))
    return ProxyADistanceResult(
      value: estimate.value, heldOutError: epsilon, folds: k, l2: options.classifier.l2,
      interval: estimate.interval)
  }
}
