import Foundation
import Metrics
import Studies

/// Everything the report shows, computed from the results store alone; encoded as report.json.
public struct StudyReport: Codable, Sendable {
  public var generatedAt: String
  public var study: StudyInfo
  public var environment: [String: String]
  public var commands: [CommandInfo]
  /// The headline metric (`report.metric` of the spec).
  public var metric: MetricName
  public var confidence: Double
  /// Every current run with its config, status and full result.
  public var runs: [RunRow]
  public var headline: [HeadlineRow]
  public var labelsToMatch: [LabelsToMatchRow]
  public var timeToTarget: [TimeToTargetRow]
  public var learningCurves: [CurveSeries]
  public var trainingCurves: [TrainingCurveSeries]
  public var forgetting: [ForgettingRow]
  public var adaBN: [AdaBNRow]
  public var weightDistances: [WeightDistanceRow]
  public var calibration: [CalibrationRow]
  public var subgroups: [SubgroupRow]
  public var shift: [ShiftAnalysisRecord]
  public var failedRuns: [RunRow]
  public var staleRuns: Int
  public var totalComputeSeconds: Double

  public struct StudyInfo: Codable, Sendable {
    public var name: String
    public var description: String
    public var specFile: String
    public var specYAML: String
    public var createdAt: String
    public var updatedAt: String
    public var source: String
    public var targets: [String]
    public var arms: [String]
    public var budgets: [String]
    public var seeds: [Int]
    public var backbone: String
    public var inputSize: Int
    /// The input window policy (`auto` unless the spec's `preprocessing.window` sets one).
    public var window: String?
    /// Per dataset label, the windows its images got in finished runs ("A": "file window C
    /// -600 W 1500"); from the runs' `window.source` / `window.target` notes.
    public var windowsUsed: [String: String]?
    /// Which arms trained on augmented images and which could not (frozen-backbone arms train
    /// on features computed once); nil in reports written before it was recorded.
    public var augmentation: String?
  }

  public struct CommandInfo: Codable, Sendable {
    public var at: String
    public var command: String
  }

  /// One run, as in the `run` table (plus its decoded result).
  public struct RunRow: Codable, Sendable {
    public var hash: String
    public var arm: String
    public var source: String
    public var target: String
    public var budget: String
    public var seed: Int
    public var status: String
    public var error: String?
    public var attempts: Int
    public var result: RunResult?
  }

  /// Transfer arm minus scratch at one budget, paired over seeds.
  public struct HeadlineRow: Codable, Sendable {
    public var target: String
    public var arm: String
    public var budget: String
    public var transfer: Interval?
    public var scratch: Interval?
    public var difference: PairedTest?
  }

  /// Labels per class scratch needs to reach the transfer arm's mean at `budget`.
  public struct LabelsToMatchRow: Codable, Sendable {
    public var target: String
    public var arm: String
    public var budget: String
    public var transferMean: Double
    /// Interpolated (log-linear) on scratch's mean learning curve; nil when not reached.
    public var scratchLabelsNeeded: Double?
    /// "reached", "at or below the smallest budget", "not reached within the budgets run", or
    /// `StudyReport.notSignificant` (transfer's paired gain over scratch has a CI reaching 0,
    /// or fewer than 3 seeds).
    public var note: String
  }

  /// The labels-to-match note where transfer did not significantly beat scratch.
  public static let notSignificant = "transfer not significantly better than scratch here"

  /// Wall seconds until the validation metric first reached `targetValue`.
  public struct TimeToTargetRow: Codable, Sendable {
    public var target: String
    public var arm: String
    public var budget: String
    public var targetValue: Double
    /// Median over the runs that reached it.
    public var medianSeconds: Double?
    public var reached: Int
    /// Runs with per-epoch curves (0: the arm does not train by epochs).
    public var runs: Int
  }

  /// One line of a learning-curve chart.
  public struct CurveSeries: Codable, Sendable {
    public var target: String
    public var arm: String
    public var points: [CurvePoint]
  }

  public struct CurvePoint: Codable, Sendable {
    public var budget: String
    /// Labels per class (for `all`: the mean labelled images per class actually used).
    public var labelsPerClass: Double
    public var value: Interval
  }

  /// Validation metric vs epoch and wall-clock, mean over seeds, at one budget.
  public struct TrainingCurveSeries: Codable, Sendable {
    public var target: String
    public var arm: String
    public var budget: String
    public var points: [TrainingPoint]
  }

  public struct TrainingPoint: Codable, Sendable {
    public var epoch: Int
    public var wallSeconds: Double
    public var valMetric: Double?
    public var trainLoss: Double?
    public var runs: Int
  }

  public struct ForgettingRow: Codable, Sendable {
    public var target: String
    public var arm: String
    public var budget: String
    public var l2spAlpha: Double?
    public var sourceBefore: Interval?
    public var sourceAfter: Interval?
    /// Source before − after (positive = forgotten).
    public var forgetting: Interval?
    /// Source before / after adaptation with BatchNorm statistics re-estimated on source images.
    public var sourceBeforeOwnStatistics: Interval?
    public var sourceAfterOwnStatistics: Interval?
    /// Source before − that: what the weights forgot.
    public var forgettingOwnStatistics: Interval?
    public var targetBefore: Interval?
    public var targetAfter: Interval?
    /// Target after − before.
    public var targetGain: Interval?
  }

  public struct AdaBNRow: Codable, Sendable {
    public var target: String
    public var budget: String
    /// The arm with AdaBN and the same arm without it (nil: compared with zero-shot).
    public var arm: String
    public var baseline: String
    public var withAdaBN: Interval?
    public var without: Interval?
    public var difference: PairedTest?
  }

  public struct WeightDistanceRow: Codable, Sendable {
    public var target: String
    public var arm: String
    public var budget: String
    public var stage: String
    public var distance: Interval
  }

  public struct CalibrationRow: Codable, Sendable {
    public var target: String
    public var arm: String
    public var budget: String
    public var ece: Interval?
    /// Bins pooled over seeds (count-weighted).
    public var bins: [ReliabilityBin]
  }

  public struct SubgroupRow: Codable, Sendable {
    public var target: String
    public var arm: String
    public var budget: String
    public var attribute: String
    public var value: String
    public var count: Int
    public var accuracy: Interval
  }
}
