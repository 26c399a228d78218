/// Counts of (true class, predicted class) pairs.
public struct ConfusionMatrix: Codable, Sendable, Equatable {
  /// Number of classes K.
  public var classCount: Int
  /// K×K counts; `counts[t][p]` = samples of true class t predicted as p.
  public var counts: [[Int]]

  /// Tallies `predictions` against `labels` (both class indices in `0..<classCount`).
  public init(labels: [Int], predictions: [Int], classCount: Int) throws {
    guard labels.count == predictions.count else {
      throw MetricsError.sizeMismatch(
        input: "predictions", expected: labels.count, actual: predictions.count)
    }
    for (name, values) in [("labels", labels), ("predictions", predictions)] {
      if let bad = values.first(where: { $0 < 0 || $0 >= classCount }) {
        throw MetricsError.labelOutOfRange(input: name, label: bad, classCount: classCount)
      }
    }
    self.classCount = classCount
    var c = [[Int]](repeating: [Int](repeating: 0, count: classCount), count: classCount)
    for (t, p) in zip(labels, predictions) { c[t][p] += 1 }
    counts = c
  }

  /// Total number of samples.
  public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

  /// Fraction of correct predictions.
  public var accuracy: Double {
    let t = total
    return t == 0 ? .nan : Double((0..<classCount).reduce(0) { $0 + counts[$1][$1] }) / Double(t)
  }

  /// Recall per class (NaN for a class with no samples).
  public var recalls: [Double] {
    (0..<classCount).map { c in
      let support = counts[c].reduce(0, +)
      return support == 0 ? .nan : Double(counts[c][c]) / Double(support)
    }
  }

  /// Mean recall over the classes present in the labels (scikit-learn's
  /// `balanced_accuracy_score`).
  public var balancedAccuracy: Double {
    let present = recalls.filter { !$0.isNaN }
    return present.isEmpty ? .nan : present.reduce(0, +) / Double(present.count)
  }

  /// F1 per class; 0 where precision + recall is 0 or undefined (scikit-learn's
  /// `zero_division=0`).
  public var f1Scores: [Double] {
    (0..<classCount).map { c in
      let tp = Double(counts[c][c])
      let support = Double(counts[c].reduce(0, +))
      let predicted = Double((0..<classCount).reduce(0) { $0 + counts[$1][c] })
      let denominator = support + predicted
      return denominator == 0 ? 0 : 2 * tp / denominator
    }
  }

  /// Unweighted mean of the per-class F1 over the classes that occur in the labels or the
  /// predictions (scikit-learn's `f1_score(average="macro")` without `labels`); a class that
  /// occurs in neither has no F1 and does not pull the mean to 0.
  public var macroF1: Double {
    let scores = f1Scores.indices.filter { c in
      counts[c].reduce(0, +) > 0 || (0..<classCount).contains { counts[$0][c] > 0 }
    }.map { f1Scores[$0] }
    return scores.isEmpty ? .nan : scores.reduce(0, +) / Double(scores.count)
  }
}
