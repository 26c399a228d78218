import Foundation

/// Classification metrics on class probabilities that are not confusion-matrix functions.
///
/// There is no "whole report" here: `Adaptation.Evaluator` arranges these estimators per
/// domain and subgroup, and that arrangement is the one a study stores.
public enum Classification {
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
