import Foundation
import Metrics

/// Classification results on one set of images.
public struct ClassificationReport: Codable, Equatable, Sendable {
  /// Number of images.
  public var count: Int
  /// Class names, in label-index order.
  public var classes: [String]
  /// Top-1 accuracy with a Wilson 95% interval.
  public var accuracy: Estimate
  /// Mean per-class recall (classes present in the labels).
  public var balancedAccuracy: Double
  /// Unweighted mean of per-class F1.
  public var macroF1: Double
  /// One-vs-rest AUROC per class (nil value when a class is absent or alone).
  public var perClassAUROC: [String: Estimate]
  /// Mean of the per-class AUROCs, with a bootstrap interval.
  public var macroAUROC: Estimate?
  /// Expected calibration error, 15 equal-width bins of the top-1 confidence.
  public var ece: Double
  /// confusion[true][predicted] counts.
  public var confusion: [[Int]]
  /// Mean cross-entropy of the predicted probabilities.
  public var loss: Double
  /// Reliability diagram: the non-empty ones of the 15 equal-width bins behind `ece`.
  public var reliability: [ReliabilityBin]
  /// SHA-256 of the scored class probabilities (N × K Float32, little-endian): two reports
  /// with the same fingerprint scored the very same predictions (nil in older reports).
  public var predictionsSHA256: String?

  /// Creates a report.
  public init(
    count: Int, classes: [String], accuracy: Estimate, balancedAccuracy: Double,
    macroF1: Double, perClassAUROC: [String: Estimate],
    macroAUROC: Estimate?, ece: Double, confusion: [[Int]], loss: Double,
    reliability: [ReliabilityBin] = []
  ) {
    self.reliability = reliability
    self.count = count
    self.classes = classes
    self.accuracy = accuracy
    self.balancedAccuracy = balancedAccuracy
    self.macroF1 = macroF1
    self.perClassAUROC = perClassAUROC
    self.macroAUROC = macroAUROC
    self.ece = ece
    self.confusion = confusion
    self.loss = loss
  }

  /// The value of `metric` (for early stopping and summaries).
  public func value(of metric: SelectionMetric) -> Double {
    switch metric {
    case .accuracy: return accuracy.value
    case .balancedAccuracy: return balancedAccuracy
    case .macroF1: return macroF1
    case .macroAUROC: return macroAUROC?.value ?? .nan
    }
  }
}

/// An evaluation with its per-domain and per-subgroup breakdowns.
public struct EvaluationReport: Codable, Equatable, Sendable {
  /// All images together.
  public var overall: ClassificationReport
  /// Per domain (site/scanner), when the data has domains.
  public var perDomain: [String: ClassificationReport]
  /// Per subgroup: keys like `sex=F`, `age=40-59`, when the headers have them.
  public var perSubgroup: [String: ClassificationReport]

  /// Creates a report.
  public init(
    overall: ClassificationReport, perDomain: [String: ClassificationReport] = [:],
    perSubgroup: [String: ClassificationReport] = [:]
  ) {
    self.overall = overall
    self.perDomain = perDomain
    self.perSubgroup = perSubgroup
  }
}
