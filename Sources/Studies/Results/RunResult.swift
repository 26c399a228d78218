import Adaptation
import Foundation
import Metrics

/// What one finished (or failed) run produced: everything the report needs.
///
/// Filled by a `RunExecutor`. Optional fields are shown as "—" in the report when absent
/// (a baseline has no epochs; a source-free arm has no forgetting).
public struct RunResult: Codable, Sendable, Equatable {
  /// Final metrics on the target test set (after adaptation).
  public var target: EvaluationMetrics
  /// Final metrics on the held-out source test set (after adaptation), if evaluated.
  public var source: EvaluationMetrics?
  /// Per-epoch curves of the target training phase.
  public var epochs: [EpochRecord]
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

  public init(
    target: EvaluationMetrics, source: EvaluationMetrics? = nil, epochs: [EpochRecord] = [],
    forgetting: ForgettingRecord? = nil, timings: [PhaseTiming] = [], wallSeconds: Double,
    imagesPerSecond: Double? = nil, trainImages: Int, failure: String? = nil,
    notes: [String: String] = [:]
  ) {
    self.target = target
    self.source = source
    self.epochs = epochs
    self.forgetting = forgetting
    self.timings = timings
    self.wallSeconds = wallSeconds
    self.imagesPerSecond = imagesPerSecond
    self.trainImages = trainImages
    self.failure = failure
    self.notes = notes
  }
}

/// Classification metrics on one evaluation set.
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

/// One epoch of target training.
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
  /// ‖w − w⁰‖₂ per backbone stage (w⁰: the weights before target adaptation).
  public var stageDistances: [StageDistance]
  /// The source model's class probabilities on the source test set against the target test
  /// set (black-box shift detection; nil in older results and without a source phase).
  public var sourceModelShift: PredictionShift?
  public init(
    sourceBefore: Double? = nil, sourceAfter: Double? = nil, targetBefore: Double? = nil,
    stageDistances: [StageDistance] = [], sourceBeforeOwnStatistics: Double? = nil,
    sourceAfterOwnStatistics: Double? = nil, sourceModelShift: PredictionShift? = nil
  ) {
    self.sourceModelShift = sourceModelShift
    self.sourceBeforeOwnStatistics = sourceBeforeOwnStatistics
    self.sourceBefore = sourceBefore
    self.sourceAfter = sourceAfter
    self.sourceAfterOwnStatistics = sourceAfterOwnStatistics
    self.targetBefore = targetBefore
    self.stageDistances = stageDistances
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

/// Weight distance of one stage.
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
