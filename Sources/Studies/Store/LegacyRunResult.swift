import Adaptation
import Backbones
import Foundation
import Interchange
import Metrics

/// A run result as study databases stored it before migration "v2-producer-records": the
/// summaries (`EvaluationMetrics`, `EpochRecord`, `StageDistance`) instead of what Adaptation
/// produced. The migration decodes each stored result in this form and stores it again as a
/// `RunResult`.
///
/// What the summaries dropped cannot come back, and is NaN (or empty) in the upgraded record:
/// the accuracy's Wilson interval, per-class AUROCs, the loss, the subgroups' other metrics, an
/// epoch's loss with its penalty, learning rate and duration, and the validation metrics other
/// than the monitored one. Every number the report reads is carried over exactly
/// (`StudyStoreMigrationTests`).
struct LegacyRunResult: Decodable {
  var target: EvaluationMetrics
  var source: EvaluationMetrics?
  var epochs: [EpochRecord]
  var forgetting: LegacyForgetting?
  var timings: [PhaseTiming]
  var wallSeconds: Double
  var imagesPerSecond: Double?
  var trainImages: Int
  var failure: String?
  var notes: [String: String]

  struct LegacyForgetting: Decodable {
    var sourceBefore: Double?
    var sourceAfter: Double?
    var sourceAfterOwnStatistics: Double?
    var sourceBeforeOwnStatistics: Double?
    var targetBefore: Double?
    var stageDistances: [StageDistance]
    var sourceModelShift: PredictionShift?
  }

  /// The stored JSON of `resultJSON` upgraded, with the epochs' monitored metric from the run's
  /// configuration.
  static func upgrade(resultJSON: String, configJSON: String) throws -> String {
    let decoder = JSONCoding.decoder()
    let legacy = try decoder.decode(LegacyRunResult.self, from: Data(resultJSON.utf8))
    let monitor = try decoder.decode(RunConfig.self, from: Data(configJSON.utf8)).training.monitor
    return try JSONCoding.canonicalString(legacy.runResult(monitor: monitor))
  }

  func runResult(monitor: MetricName) -> RunResult {
    RunResult(
      target: Self.report(target), source: source.map(Self.report),
      epochs: epochs.map { Self.log($0, monitor: monitor) }, monitor: monitor,
      forgetting: forgetting.map {
        ForgettingRecord(
          sourceBefore: $0.sourceBefore, sourceAfter: $0.sourceAfter,
          targetBefore: $0.targetBefore,
          stageDrift: $0.stageDistances.map { d in
            StageDrift(
              // Backbone stages are numbered in `featureLayers` order, the head is -1.
              stage: EfficientNetLite.featureLayers.firstIndex(of: d.stage) ?? -1, name: d.stage,
              distance: d.distance, initialNorm: .nan)
          },
          sourceBeforeOwnStatistics: $0.sourceBeforeOwnStatistics,
          sourceAfterOwnStatistics: $0.sourceAfterOwnStatistics,
          sourceModelShift: $0.sourceModelShift)
      },
      timings: timings, wallSeconds: wallSeconds, imagesPerSecond: imagesPerSecond,
      trainImages: trainImages, failure: failure, notes: notes)
  }

  /// The evaluation a summary was made from, as far as the summary kept it.
  static func report(_ m: EvaluationMetrics) -> EvaluationReport {
    func part(count: Int, accuracy: Double, balancedAccuracy: Double?) -> ClassificationReport {
      ClassificationReport(
        count: count, classes: m.classNames, accuracy: Estimate(value: accuracy, interval: nil),
        balancedAccuracy: balancedAccuracy ?? .nan, macroF1: .nan, perClassAUROC: [:],
        macroAUROC: nil, ece: .nan, confusion: [], loss: .nan)
    }
    var overall = ClassificationReport(
      count: m.count, classes: m.classNames, accuracy: Estimate(value: m.accuracy, interval: nil),
      balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, perClassAUROC: [:],
      macroAUROC: m.auroc, ece: m.ece ?? .nan, confusion: m.confusion ?? [], loss: .nan,
      reliability: m.reliability)
    overall.predictionsSHA256 = m.predictionsSHA256
    var report = EvaluationReport(overall: overall)
    for g in m.subgroups {
      let r = part(count: g.count, accuracy: g.accuracy, balancedAccuracy: g.balancedAccuracy)
      switch g.attribute {
      case "domain": report.perDomain[g.value] = r
      case "group": report.perSubgroup[g.value] = r
      default: report.perSubgroup["\(g.attribute)=\(g.value)"] = r
      }
    }
    return report
  }

  /// The epoch log a curve point was made from, as far as the point kept it.
  static func log(_ e: EpochRecord, monitor: MetricName) -> EpochLog {
    var validation: ValidationMetrics?
    if e.valMetric != nil || e.valLoss != nil {
      let v = e.valMetric ?? .nan
      validation = ValidationMetrics(
        loss: e.valLoss ?? .nan, accuracy: monitor == .accuracy ? v : .nan,
        balancedAccuracy: monitor == .balancedAccuracy ? v : .nan,
        macroF1: monitor == .macroF1 ? v : .nan, macroAUROC: monitor == .macroAUROC ? v : nil)
    }
    return EpochLog(
      epoch: e.epoch, trainLoss: .nan, trainCrossEntropy: e.trainLoss ?? .nan,
      validation: validation, learningRate: .nan, seconds: .nan, elapsedSeconds: e.wallSeconds,
      imagesPerSecond: e.imagesPerSecond ?? .nan, isBest: false)
  }
}
