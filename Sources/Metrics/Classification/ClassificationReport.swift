import Foundation

/// Everything Metrics says about one model on one labelled test set.
public struct ClassificationReport: Codable, Sendable, Equatable {
  /// Number of test samples.
  public var count: Int
  /// Accuracy with a percentile bootstrap interval.
  public var accuracy: Estimate
  /// Balanced accuracy (mean per-class recall) with a bootstrap interval.
  public var balancedAccuracy: Estimate
  /// Macro-averaged F1 with a bootstrap interval.
  public var macroF1: Estimate
  /// Confusion matrix (rows = true class).
  public var confusion: ConfusionMatrix
  /// Binary AUROC (K = 2, class 1 positive) with DeLong and stratified bootstrap intervals.
  public var auroc: AUROCResult?
  /// One-vs-rest macro AUROC (K > 2).
  public var multiclassAUROC: MulticlassAUROCResult?
  /// Top-label ECE with 15 bins and the reliability-diagram data.
  public var calibration: CalibrationResult
}

/// Classification metrics on class probabilities.
public enum Classification {
  /// Computes the full report from n×K probabilities (rows sum to 1) and labels in 0..<K.
  ///
  /// Intervals use `bootstrap` (resampling test samples; AUROC intervals resample within
  /// each class). AUROC is nil when the test set lacks a class.
  public static func report(
    probabilities: [[Double]], labels: [Int], bootstrap: Bootstrap.Plan = .init()
  ) throws -> ClassificationReport {
    let n = labels.count
    guard probabilities.count == n else {
      throw MetricsError.sizeMismatch(
        input: "probabilities rows", expected: n, actual: probabilities.count)
    }
    guard n > 0 else {
      throw MetricsError.tooFewSamples(input: "test labels", count: 0, minimum: 1)
    }
    let k = probabilities[0].count
    for (i, row) in probabilities.enumerated() {
      guard row.count == k else {
        throw MetricsError.sizeMismatch(
          input: "probabilities row \(i)", expected: k, actual: row.count)
      }
      if row.contains(where: { !$0.isFinite }) {
        throw MetricsError.nonFinite(input: "probabilities", index: i)
      }
    }
    let predictions = probabilities.map { row in row.indices.max { row[$0] < row[$1] }! }
    let confusion = try ConfusionMatrix(labels: labels, predictions: predictions, classCount: k)
    func estimate(_ metric: @escaping (ConfusionMatrix) -> Double) throws -> Estimate {
      try Bootstrap.estimate(count: n, plan: bootstrap) { idx in
        metric(
          try ConfusionMatrix(
            labels: idx.map { labels[$0] }, predictions: idx.map { predictions[$0] }, classCount: k)
        )
      }
    }
    var auroc: AUROCResult?
    var multi: MulticlassAUROCResult?
    let present = Set(labels)
    if k == 2, present.count == 2 {
      auroc = try ROC.analyze(
        scores: probabilities.map { $0[1] }, positive: labels.map { $0 == 1 },
        level: bootstrap.level,
        bootstrap: bootstrap)
    } else if k > 2, present.count == k {
      multi = try ROC.oneVsRest(
        probabilities: probabilities, labels: labels, level: bootstrap.level, bootstrap: bootstrap)
    }
    return ClassificationReport(
      count: n, accuracy: try estimate(\.accuracy),
      balancedAccuracy: try estimate(\.balancedAccuracy), macroF1: try estimate(\.macroF1),
      confusion: confusion, auroc: auroc, multiclassAUROC: multi,
      calibration: try Calibration.expectedCalibrationError(
        probabilities: probabilities, labels: labels))
  }

  /// Wilson score interval of a proportion `successes / count` (Wilson 1927; scipy's
  /// `binomtest(k, n).proportion_ci(method="wilson")`), clipped to [0, 1]; nil for no trials.
  public static func wilsonInterval(successes: Int, count: Int, level: Double = 0.95)
    -> ConfidenceInterval?
  {
    guard count > 0 else { return nil }
    let n = Double(count)
    let p = Double(successes) / n
    let z = Distributions.normalQuantile(0.5 + level / 2)
    let d = 1 + z * z / n
    let centre = (p + z * z / (2 * n)) / d
    let half = z * ((p * (1 - p) / n + z * z / (4 * n * n)).squareRoot()) / d
    return ConfidenceInterval(
      lower: max(0, centre - half), upper: min(1, centre + half), level: level, method: "Wilson")
  }

  /// Mean negative log-likelihood of the labels (scikit-learn's `log_loss`, probabilities
  /// clipped at 1e-12); NaN for no samples.
  public static func logLoss(probabilities: [[Double]], labels: [Int]) -> Double {
    guard !labels.isEmpty else { return .nan }
    var s = 0.0
    for (row, y) in zip(probabilities, labels) { s -= log(max(row[y], 1e-12)) }
    return s / Double(labels.count)
  }
}
