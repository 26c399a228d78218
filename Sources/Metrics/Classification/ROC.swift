import Randomness

/// AUROC of one binary problem with its DeLong variance and intervals.
public struct AUROCResult: Codable, Sendable, Equatable {
  /// Area under the ROC curve (ties count ½).
  public var auc: Double
  /// DeLong variance estimate of the AUC.
  public var variance: Double
  /// Normal interval auc ± z·√variance from DeLong, clipped to [0, 1].
  public var deLongInterval: ConfidenceInterval
  /// Stratified percentile bootstrap interval (positives and negatives resampled separately),
  /// if requested.
  public var bootstrapInterval: ConfidenceInterval?
  /// Number of positive samples.
  public var positives: Int
  /// Number of negative samples.
  public var negatives: Int
}

/// One-vs-rest AUROC of a multiclass problem.
public struct MulticlassAUROCResult: Codable, Sendable, Equatable {
  /// Unweighted mean of the per-class one-vs-rest AUROCs.
  public var macroAUC: Double
  /// Per averaged class (class c = positive, the rest negative), in the order averaged, with
  /// DeLong intervals.
  public var perClass: [AUROCResult]
  /// Stratified (by class) percentile bootstrap interval of the macro AUC, if requested.
  public var bootstrapInterval: ConfidenceInterval?
}

/// DeLong's test of two correlated AUROCs on the same samples.
public struct PairedAUROCComparison: Codable, Sendable, Equatable {
  /// AUC of model A.
  public var aucA: Double
  /// AUC of model B.
  public var aucB: Double
  /// aucA − aucB.
  public var difference: Double
  /// DeLong standard error of the difference.
  public var standardError: Double
  /// z = difference / standardError.
  public var z: Double
  /// Two-sided p-value of H₀: equal AUCs.
  public var pValue: Double
  /// Normal interval of the difference.
  public var interval: ConfidenceInterval
}

/// A point of an ROC curve.
public struct ROCPoint: Codable, Sendable, Equatable {
  /// False-positive rate.
  public var falsePositiveRate: Double
  /// True-positive rate.
  public var truePositiveRate: Double
  /// Score threshold (predict positive when score ≥ threshold).
  public var threshold: Double
}

/// Receiver operating characteristic analysis.
///
/// DeLong et al. (1988) variance via the structural components, computed in O(N log N) with
/// mid-ranks (Sun & Xu 2014): with T_Z the mid-ranks of all scores, T_X those within the
/// positives and T_Y within the negatives, V10ᵢ = (T_Z(xᵢ) − T_X(xᵢ))/n and
/// V01ⱼ = 1 − (T_Z(yⱼ) − T_Y(yⱼ))/m; Var(AUC) = S10/m + S01/n.
public enum ROC {
  /// The AUROC of `scores` for `positive` labels (Mann–Whitney, ties ½).
  public static func auroc(scores: [Double], positive: [Bool]) throws -> Double {
    try components(scores: [scores], positive: positive).auc[0]
  }

  /// AUROC with DeLong variance and interval, plus an optional stratified bootstrap interval.
  public static func analyze(
    scores: [Double], positive: [Bool], level: Double = 0.95,
    bootstrap: Bootstrap.Plan = .init(replicates: 0)
  ) throws -> AUROCResult {
    let comp = try components(scores: [scores], positive: positive)
    let variance = comp.covariance(0, 0)
    let auc = comp.auc[0]
    let z = Distributions.normalQuantile(0.5 + level / 2)
    let se = variance.squareRoot()
    var boot: ConfidenceInterval?
    if bootstrap.replicates > 0 {
      let pos = positive.indices.filter { positive[$0] }
      let neg = positive.indices.filter { !positive[$0] }
      let est = Bootstrap.estimate(counts: pos.count, neg.count, plan: bootstrap) { i, j in
        mannWhitney(i.map { scores[pos[$0]] }, j.map { scores[neg[$0]] })
      }
      boot = est.interval.map {
        var ci = $0
        ci.method = "stratified " + ci.method
        return ci
      }
    }
    return AUROCResult(
      auc: auc, variance: variance,
      deLongInterval: ConfidenceInterval(
        lower: max(0, auc - z * se), upper: min(1, auc + z * se), level: level, method: "DeLong"),
      bootstrapInterval: boot, positives: comp.m, negatives: comp.n)
  }

  /// One-vs-rest AUROC per class and their macro average, from n×K class probabilities.
  ///
  /// `classes` restricts the average to those class indices (default: all K; each needs
  /// positives and negatives). The bootstrap resamples within each class, so every replicate
  /// keeps the class counts of the sample.
  public static func oneVsRest(
    probabilities: [[Double]], labels: [Int], classes: [Int]? = nil, level: Double = 0.95,
    bootstrap: Bootstrap.Plan = .init(replicates: 0)
  ) throws -> MulticlassAUROCResult {
    guard probabilities.count == labels.count else {
      throw MetricsError.sizeMismatch(
        input: "probabilities rows", expected: labels.count, actual: probabilities.count)
    }
    let k = probabilities.first?.count ?? 0
    let averaged = classes ?? Array(0..<k)
    var perClass = [AUROCResult]()
    for c in averaged {
      perClass.append(
        try analyze(
          scores: probabilities.map { $0[c] }, positive: labels.map { $0 == c }, level: level))
    }
    let macro = perClass.map(\.auc).reduce(0, +) / Double(max(averaged.count, 1))
    var boot: ConfidenceInterval?
    if bootstrap.replicates > 0 {
      let byClass = (0..<k).map { c in labels.indices.filter { labels[$0] == c } }
      var generator = SeededGenerator(seed: bootstrap.seed)
      var stats = [Double]()
      for _ in 0..<bootstrap.replicates {
        var rows = [Int]()
        for members in byClass where !members.isEmpty {
          for _ in members.indices { rows.append(members[generator.below(members.count)]) }
        }
        var sum = 0.0
        for c in averaged {
          let pos = rows.filter { labels[$0] == c }.map { probabilities[$0][c] }
          let neg = rows.filter { labels[$0] != c }.map { probabilities[$0][c] }
          sum += mannWhitney(pos, neg)
        }
        stats.append(sum / Double(max(averaged.count, 1)))
      }
      boot = Bootstrap.percentileInterval(stats, level: bootstrap.level).map {
        var ci = $0
        ci.method = "stratified " + ci.method
        return ci
      }
    }
    return MulticlassAUROCResult(macroAUC: macro, perClass: perClass, bootstrapInterval: boot)
  }

  /// DeLong's paired test: do two models' scores on the same samples have equal AUROC?
  public static func compare(
    scoresA: [Double], scoresB: [Double], positive: [Bool], level: Double = 0.95
  ) throws -> PairedAUROCComparison {
    guard scoresA.count == scoresB.count else {
      throw MetricsError.sizeMismatch(
        input: "scoresB", expected: scoresA.count, actual: scoresB.count)
    }
    let comp = try components(scores: [scoresA, scoresB], positive: positive)
    let variance = comp.covariance(0, 0) + comp.covariance(1, 1) - 2 * comp.covariance(0, 1)
    let se = max(variance, 0).squareRoot()
    let diff = comp.auc[0] - comp.auc[1]
    let z = se > 0 ? diff / se : (diff == 0 ? 0 : .infinity * diff)
    let p = se > 0 ? 2 * Distributions.normalSurvival(abs(z)) : (diff == 0 ? 1 : 0)
    let q = Distributions.normalQuantile(0.5 + level / 2)
    return PairedAUROCComparison(
      aucA: comp.auc[0], aucB: comp.auc[1], difference: diff, standardError: se, z: z, pValue: p,
      interval: ConfidenceInterval(
        lower: diff - q * se, upper: diff + q * se, level: level, method: "DeLong"))
  }

  /// The ROC curve: one point per distinct threshold, from (0, 0) to (1, 1).
  public static func curve(scores: [Double], positive: [Bool]) -> [ROCPoint] {
    let order = scores.indices.sorted { scores[$0] > scores[$1] }
    let p = Double(positive.filter { $0 }.count)
    let n = Double(positive.count) - p
    var tp = 0.0
    var fp = 0.0
    var points = [ROCPoint(falsePositiveRate: 0, truePositiveRate: 0, threshold: .infinity)]
    var i = 0
    while i < order.count {
      let threshold = scores[order[i]]
      while i < order.count && scores[order[i]] == threshold {
        if positive[order[i]] { tp += 1 } else { fp += 1 }
        i += 1
      }
      points.append(
        ROCPoint(
          falsePositiveRate: n > 0 ? fp / n : 0, truePositiveRate: p > 0 ? tp / p : 0,
          threshold: threshold))
    }
    return points
  }

  // MARK: - Internals

  /// P(X > Y) + ½P(X = Y) for positive scores x and negative scores y.
  static func mannWhitney(_ x: [Double], _ y: [Double]) -> Double {
    if x.isEmpty || y.isEmpty { return .nan }
    let ranks = Descriptive.midranks(x + y)
    var sum = 0.0
    for i in 0..<x.count { sum += ranks[i] }
    let m = Double(x.count)
    let n = Double(y.count)
    return (sum - m * (m + 1) / 2) / (m * n)
  }

  struct Components {
    var m: Int
    var n: Int
    var auc: [Double]
    var v10: [[Double]]
    var v01: [[Double]]

    func covariance(_ a: Int, _ b: Int) -> Double {
      func cov(_ x: [Double], _ y: [Double]) -> Double {
        if x.count < 2 { return 0 }
        let mx = Descriptive.mean(x)
        let my = Descriptive.mean(y)
        var s = 0.0
        for i in x.indices { s += (x[i] - mx) * (y[i] - my) }
        return s / Double(x.count - 1)
      }
      return cov(v10[a], v10[b]) / Double(m) + cov(v01[a], v01[b]) / Double(n)
    }
  }

  static func components(scores: [[Double]], positive: [Bool]) throws -> Components {
    for s in scores {
      guard s.count == positive.count else {
        throw MetricsError.sizeMismatch(input: "scores", expected: positive.count, actual: s.count)
      }
      if let bad = s.firstIndex(where: { !$0.isFinite }) {
        throw MetricsError.nonFinite(input: "scores", index: bad)
      }
    }
    let pos = positive.indices.filter { positive[$0] }
    let neg = positive.indices.filter { !positive[$0] }
    guard !pos.isEmpty, !neg.isEmpty else {
      throw MetricsError.missingClass(
        input: "AUROC labels",
        detail: "\(pos.count) positives and \(neg.count) negatives; both classes are needed")
    }
    let m = Double(pos.count)
    let n = Double(neg.count)
    var result = Components(m: pos.count, n: neg.count, auc: [], v10: [], v01: [])
    for s in scores {
      let x = pos.map { s[$0] }
      let y = neg.map { s[$0] }
      let tz = Descriptive.midranks(x + y)
      let tx = Descriptive.midranks(x)
      let ty = Descriptive.midranks(y)
      let v10 = (0..<pos.count).map { (tz[$0] - tx[$0]) / n }
      let v01 = (0..<neg.count).map { 1 - (tz[pos.count + $0] - ty[$0]) / m }
      result.auc.append(v10.reduce(0, +) / m)
      result.v10.append(v10)
      result.v01.append(v01)
    }
    return result
  }
}
