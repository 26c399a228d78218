import Adaptation
import Foundation
import Metrics

/// What one finished (or failed) run produced: everything the report needs.
///
/// Filled by a `RunExecutor`. The evaluations and the epochs are stored as Adaptation produced
/// them (`EvaluationReport`, `EpochLog`); `target`, `source` and `epochs` are the summaries
/// the report reads, computed from them. Study databases written before that stored the
/// summaries; `StudyStore`'s migration "v2-producer-records" rewrote them (see
/// `LegacyRunResult`). Optional fields are shown as "—" in the report when absent (a baseline
/// has no epochs; a source-free arm has no forgetting).
public struct RunResult: Codable, Sendable, Equatable {
  /// The target test set's evaluation after adaptation, as `Evaluator` wrote it.
  public var targetEvaluation: EvaluationReport
  /// The held-out source test set's evaluation after adaptation, if evaluated.
  public var sourceEvaluation: EvaluationReport?
  /// The target training phase's epochs, as the trainer logged them.
  public var epochLogs: [EpochLog]
  /// The validation metric the run monitored (what `epochs`' `valMetric` reads).
  public var monitor: MetricName
  /// Source metric before/after target adaptation and weight drift.
  public var forgetting: ForgettingRecord?
  /// Wall seconds per phase (e.g. "data", "source-training", "adabn", "target-training", "eval").
  public var timings: [PhaseTiming]
  /// Total wall seconds of the run.
  public var wallSeconds: Double
  /// Training throughput (images per second), if the run trained.
  public var imagesPerSecond: Double?
  /// Target training images used (after the label budget).
  public var trainImages: Int
  /// Set when the run failed after producing partial results (e.g. "loss became NaN at epoch 7").
  public var failure: String?
  /// Free-form facts worth keeping (checkpoint path, chosen learning rate, …).
  public var notes: [String: String]

  enum CodingKeys: String, CodingKey {
    case targetEvaluation = "target"
    case sourceEvaluation = "source"
    case epochLogs = "epochs"
    case monitor, forgetting, timings, wallSeconds, imagesPerSecond, trainImages, failure, notes
  }

  public init(
    target: EvaluationReport, source: EvaluationReport? = nil, epochs: [EpochLog] = [],
    monitor: MetricName = .balancedAccuracy, forgetting: ForgettingRecord? = nil,
    timings: [PhaseTiming] = [], wallSeconds: Double, imagesPerSecond: Double? = nil,
    trainImages: Int, failure: String? = nil, notes: [String: String] = [:]
  ) {
    self.targetEvaluation = target
    self.sourceEvaluation = source
    self.epochLogs = epochs
    self.monitor = monitor
    self.forgetting = forgetting
    self.timings = timings
    self.wallSeconds = wallSeconds
    self.imagesPerSecond = imagesPerSecond
    self.trainImages = trainImages
    self.failure = failure
    self.notes = notes
  }

  /// The target summary the report reads.
  public var target: EvaluationMetrics { EvaluationMetrics(targetEvaluation) }
  /// The source summary the report reads.
  public var source: EvaluationMetrics? { sourceEvaluation.map(EvaluationMetrics.init) }
  /// The epochs as the report's curves read them.
  public var epochs: [EpochRecord] { epochLogs.map { EpochRecord($0, monitor: monitor) } }
}

/// Classification metrics on one evaluation set: the summary of an `EvaluationReport` the
/// report's tables read (computed, not stored).
public struct EvaluationMetrics: Codable, Sendable, Equatable {
  /// Images evaluated.
  public var count: Int
  public var accuracy: Double
  public var balancedAccuracy: Double
  public var macroF1: Double
  /// Macro one-vs-rest AUROC with its CI (nil when undefined, e.g. one class only).
  public var auroc: Estimate?
  /// Expected calibration error (15 equal-width bins unless the bins say otherwise).
  public var ece: Double?
  /// Reliability diagram bins (top-label confidence).
  public var reliability: [ReliabilityBin]
  /// Per-subgroup results (domain, sex, age band where present).
  public var subgroups: [SubgroupMetric]
  /// Class names in label order.
  public var classNames: [String]
  /// Confusion matrix, rows = true class, columns = predicted class.
  public var confusion: [[Int]]?
  /// SHA-256 of the class probabilities these metrics were computed from (Adaptation's
  /// `ClassificationReport.predictionsSHA256`; nil in older results).
  public var predictionsSHA256: String?

  public init(
    count: Int, accuracy: Double, balancedAccuracy: Double, macroF1: Double,
    auroc: Estimate? = nil, ece: Double? = nil, reliability: [ReliabilityBin] = [],
    subgroups: [SubgroupMetric] = [], classNames: [String] = [], confusion: [[Int]]? = nil,
    predictionsSHA256: String? = nil
  ) {
    self.predictionsSHA256 = predictionsSHA256
    self.count = count
    self.accuracy = accuracy
    self.balancedAccuracy = balancedAccuracy
    self.macroF1 = macroF1
    self.auroc = auroc
    self.ece = ece
    self.reliability = reliability
    self.subgroups = subgroups
    self.classNames = classNames
    self.confusion = confusion
  }

  /// The summary of `report`: overall numbers, then one subgroup per domain and per header
  /// subgroup (`sex=F` → attribute "sex", value "F"), each sorted by key.
  public init(_ report: EvaluationReport) {
    let o = report.overall
    var subgroups: [SubgroupMetric] = []
    for (domain, r) in report.perDomain.sorted(by: { $0.key < $1.key }) {
      subgroups.append(
        SubgroupMetric(
          attribute: "domain", value: domain, count: r.count, accuracy: r.accuracy.value,
          balancedAccuracy: r.balancedAccuracy))
    }
    for (key, r) in report.perSubgroup.sorted(by: { $0.key < $1.key }) {
      let parts = key.split(separator: "=", maxSplits: 1).map(String.init)
      subgroups.append(
        SubgroupMetric(
          attribute: parts.count == 2 ? parts[0] : "group", value: parts.last ?? key,
          count: r.count, accuracy: r.accuracy.value, balancedAccuracy: r.balancedAccuracy))
    }
    self.init(
      count: o.count, accuracy: o.accuracy.value, balancedAccuracy: o.balancedAccuracy,
      macroF1: o.macroF1, auroc: o.macroAUROC, ece: o.ece, reliability: o.reliability,
      subgroups: subgroups, classNames: o.classes, confusion: o.confusion,
      predictionsSHA256: o.predictionsSHA256)
  }

  /// The value of a named metric (nil when not available).
  public func value(_ metric: MetricName) -> Double? {
    switch metric {
    case .accuracy: return accuracy
    case .balancedAccuracy: return balancedAccuracy
    case .macroF1: return macroF1
    case .macroAUROC: return auroc?.value
    }
  }
}

/// A metric restricted to one subgroup (e.g. attribute "sex", value "F").
public struct SubgroupMetric: Codable, Sendable, Equatable {
  public var attribute: String
  public var value: String
  public var count: Int
  public var accuracy: Double
  public var balancedAccuracy: Double?
  public init(
    attribute: String, value: String, count: Int, accuracy: Double,
    balancedAccuracy: Double? = nil
  ) {
    self.attribute = attribute
    self.value = value
    self.count = count
    self.accuracy = accuracy
    self.balancedAccuracy = balancedAccuracy
  }
}

/// One epoch of target training as the report's curves read it (computed from the stored
/// `EpochLog`s, and sent live to the progress line while a run trains).
public struct EpochRecord: Codable, Sendable, Equatable {
  /// 1-based epoch.
  public var epoch: Int
  /// Wall seconds since the start of the training phase, at the end of this epoch.
  public var wallSeconds: Double
  public var trainLoss: Double?
  /// The monitored validation metric (`TrainingSettings.monitor`).
  public var valMetric: Double?
  public var valLoss: Double?
  public var imagesPerSecond: Double?
  public init(
    epoch: Int, wallSeconds: Double, trainLoss: Double? = nil, valMetric: Double? = nil,
    valLoss: Double? = nil, imagesPerSecond: Double? = nil
  ) {
    self.epoch = epoch
    self.wallSeconds = wallSeconds
    self.trainLoss = trainLoss
    self.valMetric = valMetric
    self.valLoss = valLoss
    self.imagesPerSecond = imagesPerSecond
  }

  /// The record of a logged epoch: its cross-entropy as the training loss (not cross-entropy
  /// + weight penalty: the L2-SP term grows as the weights leave w⁰, which made regularised
  /// arms' curves rise and not compare with others) and the monitored validation metric.
  public init(_ log: EpochLog, monitor: MetricName) {
    self.init(
      epoch: log.epoch, wallSeconds: log.elapsedSeconds, trainLoss: log.trainCrossEntropy,
      valMetric: log.validation?.value(of: monitor), valLoss: log.validation?.loss,
      imagesPerSecond: log.imagesPerSecond)
  }
}

/// Forgetting: the source metric before and after adapting to the target, and weight drift.
public struct ForgettingRecord: Codable, Sendable, Equatable {
  /// Source test metric (report metric) of the source model before target adaptation.
  public var sourceBefore: Double?
  /// Source test metric after target adaptation.
  public var sourceAfter: Double?
  /// Source test metric after target adaptation with BatchNorm statistics re-estimated on
  /// source images: the part of forgetting that is in the weights (nil in older results).
  public var sourceAfterOwnStatistics: Double?
  /// The source model's source test metric with statistics re-estimated the same way.
  public var sourceBeforeOwnStatistics: Double?
  /// Target test metric of the source model before adaptation (zero-shot transfer).
  public var targetBefore: Double?
  /// ‖w − w⁰‖₂ per backbone stage (w⁰: the weights before target adaptation), as
  /// Adaptation measured it (`StageDrift`, with ‖w⁰‖₂).
  public var stageDrift: [StageDrift]
  /// The source model's class probabilities on the source test set against the target test
  /// set (black-box shift detection; nil in older results and without a source phase).
  public var sourceModelShift: PredictionShift?
  enum CodingKeys: String, CodingKey {
    case sourceBefore, sourceAfter, sourceAfterOwnStatistics, sourceBeforeOwnStatistics
    case targetBefore
    case stageDrift = "stageDistances"
    case sourceModelShift
  }

  public init(
    sourceBefore: Double? = nil, sourceAfter: Double? = nil, targetBefore: Double? = nil,
    stageDrift: [StageDrift] = [], sourceBeforeOwnStatistics: Double? = nil,
    sourceAfterOwnStatistics: Double? = nil, sourceModelShift: PredictionShift? = nil
  ) {
    self.sourceModelShift = sourceModelShift
    self.sourceBeforeOwnStatistics = sourceBeforeOwnStatistics
    self.sourceBefore = sourceBefore
    self.sourceAfter = sourceAfter
    self.sourceAfterOwnStatistics = sourceAfterOwnStatistics
    self.targetBefore = targetBefore
    self.stageDrift = stageDrift
  }

  /// The stage distances as the report's tables read them (stage name and distance).
  public var stageDistances: [StageDistance] {
    stageDrift.map { StageDistance(stage: $0.name, distance: $0.distance) }
  }

  /// Source metric lost by adapting (before − after).
  public var forgetting: Double? {
    guard let b = sourceBefore, let a = sourceAfter else { return nil }
    return b - a
  }

  /// Source metric lost in the weights (before − after, both with source statistics).
  public var forgettingOwnStatistics: Double? {
    guard let b = sourceBeforeOwnStatistics, let a = sourceAfterOwnStatistics else { return nil }
    return b - a
  }
}

/// Weight distance of one stage as the report reads it (computed from `StageDrift`).
public struct StageDistance: Codable, Sendable, Equatable {
  public var stage: String
  public var distance: Double
  public init(stage: String, distance: Double) {
    self.stage = stage
    self.distance = distance
  }
}

/// The source model's black-box shift record that `ForgettingRecord` stores as its producer
/// (Adaptation) wrote it, re-exported so the report reads it without importing Adaptation.
public typealias PredictionShift = Adaptation.PredictionShift

/// A run's phase timings are the protocol's own `PhaseTiming` records (re-exported for Reports).
public typealias PhaseTiming = Adaptation.PhaseTiming

/// The records Adaptation produces that a `RunResult` stores as they are (re-exported for
/// Reports and the tests that build results).
public typealias EvaluationReport = Adaptation.EvaluationReport
public typealias ClassificationReport = Adaptation.ClassificationReport
public typealias EpochLog = Adaptation.EpochLog
public typealias ValidationMetrics = Adaptation.ValidationMetrics
public typealias StageDrift = Adaptation.StageDrift
