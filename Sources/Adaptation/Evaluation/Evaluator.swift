import Datasets
import Foundation
import Interchange
import Metrics

/// Turns predicted class probabilities into the reports `evaluate`, `summary.json` and the
/// studies show.
///
/// Every number is computed by Metrics, the implementation its reference scripts and
/// closed-form tests verify (confusion-matrix metrics, DeLong and bootstrap AUROC intervals,
/// the Wilson interval, ECE and log loss); this type only arranges them per domain and
/// subgroup. It keeps no estimator of its own.
public enum Evaluator {
  /// The full report with per-domain and per-subgroup breakdowns (subsets with < 2 images are
  /// left out).
  public static func report(
    probabilities: [Float], labels: [Int], classes: [String],
    domains: [String]? = nil, subgroups: [[String]]? = nil,
    bootstrapReplicates: Int = 500, seed: UInt64 = 0
  ) -> EvaluationReport {
    let k = classes.count
    func sub(_ rows: [Int]) -> ClassificationReport {
      var p: [Float] = []
      p.reserveCapacity(rows.count * k)
      for r in rows { p += probabilities[(r * k)..<((r + 1) * k)] }
      return classification(
        probabilities: p, labels: rows.map { labels[$0] }, classes: classes,
        bootstrapReplicates: bootstrapReplicates, seed: seed)
    }
    let overall = classification(
      probabilities: probabilities, labels: labels, classes: classes,
      bootstrapReplicates: bootstrapReplicates, seed: seed)
    var perDomain: [String: ClassificationReport] = [:]
    if let domains, Set(domains).count > 1 {
      for d in Set(domains) {
        let rows = domains.indices.filter { domains[$0] == d }
        if rows.count >= 2 { perDomain[d] = sub(rows) }
      }
    }
    var perSubgroup: [String: ClassificationReport] = [:]
    if let subgroups {
      for g in Set(subgroups.flatMap { $0 }) {
        let rows = subgroups.indices.filter { subgroups[$0].contains(g) }
        if rows.count >= 2 { perSubgroup[g] = sub(rows) }
      }
    }
    return EvaluationReport(overall: overall, perDomain: perDomain, perSubgroup: perSubgroup)
  }

  /// The cheap per-epoch numbers (no intervals).
  public static func validation(probabilities: [Float], labels: [Int], classes k: Int)
    -> ValidationMetrics
  {
    let rows = Self.rows(probabilities, k)
    let confusion = Self.confusion(rows, labels, k)
    let perClass = (0..<k).compactMap { c -> Double? in
      let positive = labels.map { $0 == c }
      guard positive.contains(true), positive.contains(false) else { return nil }
      return try? ROC.auroc(scores: rows.map { $0[c] }, positive: positive)
    }
    return ValidationMetrics(
      loss: Classification.logLoss(probabilities: rows, labels: labels),
      accuracy: confusion.accuracy, balancedAccuracy: confusion.balancedAccuracy,
      macroF1: confusion.macroF1,
      macroAUROC: perClass.isEmpty ? nil : perClass.reduce(0, +) / Double(perClass.count))
  }

  /// One classification report.
  ///
  /// Accuracy has a Wilson interval; per-class one-vs-rest AUROC a DeLong interval (classes
  /// with at least two positives and two negatives); their macro mean a stratified bootstrap
  /// interval (`bootstrapReplicates` resamples within each class, seeded by `seed`).
  public static func classification(
    probabilities: [Float], labels: [Int], classes: [String],
    bootstrapReplicates: Int = 500, seed: UInt64 = 0
  )
    -> ClassificationReport
  {
    let k = classes.count
    let n = labels.count
    precondition(probabilities.count == n * k, "Evaluator needs N×K probabilities.")
    let rows = Self.rows(probabilities, k)
    let confusion = Self.confusion(rows, labels, k)
    let correct = (0..<k).reduce(0) { $0 + confusion.counts[$1][$1] }
    let wilson = Classification.wilsonInterval(successes: correct, count: n)
    // DeLong needs two of each side for its variance; classes with fewer are left out.
    let present = (0..<k).filter { c in
      let positives = labels.filter { $0 == c }.count
      return positives >= 2 && n - positives >= 2
    }
    var perClass: [String: Estimate] = [:]
    var macro: Estimate?
    if !present.isEmpty,
      let auroc = try? ROC.oneVsRest(
        probabilities: rows, labels: labels, classes: present,
        bootstrap: Bootstrap.Plan(replicates: bootstrapReplicates, seed: seed ^ 0xB007))
    {
      for (c, result) in zip(present, auroc.perClass) {
        perClass[classes[c]] = Estimate(value: result.auc, interval: result.deLongInterval)
      }
      macro = Estimate(value: auroc.macroAUC, interval: auroc.bootstrapInterval)
    }
    let calibration = try? Calibration.expectedCalibrationError(
      probabilities: rows, labels: labels)
    let reliability = calibration?.bins ?? []
    var report = ClassificationReport(
      count: n, classes: classes,
      accuracy: Estimate(value: confusion.accuracy, interval: wilson),
      balancedAccuracy: confusion.balancedAccuracy, macroF1: confusion.macroF1,
      perClassAUROC: perClass, macroAUROC: macro,
      ece: n == 0 ? .nan : calibration?.expectedCalibrationError ?? .nan,
      confusion: confusion.counts,
      loss: Classification.logLoss(probabilities: rows, labels: labels),
      reliability: reliability)
    report.predictionsSHA256 = probabilities.withUnsafeBufferPointer {
      sha256Hex(Data(buffer: $0))
    }
    return report
  }

  // MARK: - Pieces

  /// N×K row-major Float32 probabilities as Metrics' rows (exact widening).
  static func rows(_ p: [Float], _ k: Int) -> [[Double]] {
    stride(from: 0, to: p.count, by: k).map { start in p[start..<(start + k)].map(Double.init) }
  }

  /// confusion[true][predicted], predicted = the first class of largest probability.
  static func confusion(_ rows: [[Double]], _ labels: [Int], _ k: Int) -> ConfusionMatrix {
    let predictions = rows.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
    do {
      return try ConfusionMatrix(labels: labels, predictions: predictions, classCount: k)
    } catch {
      preconditionFailure("Evaluator got labels outside 0..<\(k): \(error)")
    }
  }

  /// confusion[true][predicted] counts for N×K probabilities.
  public static func confusionMatrix(probabilities p: [Float], labels: [Int], classes k: Int)
    -> [[Int]]
  {
    confusion(rows(p, k), labels, k).counts
  }
}
