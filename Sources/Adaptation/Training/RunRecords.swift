import Foundation

/// One line of `metrics.jsonl`: what happened in one epoch.
public struct EpochLog: Codable, Equatable, Sendable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Mean training loss (cross-entropy + penalties + CORAL) over the epoch's batches.
  public var trainLoss: Double
  /// Mean cross-entropy part of the training loss.
  public var trainCrossEntropy: Double
  /// Validation metrics (nil when there is no validation split).
  public var validation: ValidationMetrics?
  /// Learning rate at the end of the epoch (head group).
  public var learningRate: Double
  /// Wall-clock seconds of the epoch (training and validation).
  public var seconds: Double
  /// Seconds since the run started (for curves against wall time).
  public var elapsedSeconds: Double
  /// Training images per second.
  public var imagesPerSecond: Double
  /// Whether this epoch produced the best checkpoint so far.
  public var isBest: Bool

  /// Creates an epoch record.
  public init(
    epoch: Int, trainLoss: Double, trainCrossEntropy: Double, validation: ValidationMetrics?,
    learningRate: Double, seconds: Double, elapsedSeconds: Double, imagesPerSecond: Double,
    isBest: Bool
  ) {
    self.epoch = epoch
    self.trainLoss = trainLoss
    self.trainCrossEntropy = trainCrossEntropy
    self.validation = validation
    self.learningRate = learningRate
    self.seconds = seconds
    self.elapsedSeconds = elapsedSeconds
    self.imagesPerSecond = imagesPerSecond
    self.isBest = isBest
  }
}

/// The validation numbers tracked per epoch (cheap to compute, no intervals).
public struct ValidationMetrics: Codable, Equatable, Sendable {
  public var loss: Double
  public var accuracy: Double
  public var balancedAccuracy: Double
  public var macroF1: Double
  public var macroAUROC: Double?

  /// Creates validation metrics.
  public init(
    loss: Double, accuracy: Double, balancedAccuracy: Double, macroF1: Double,
    macroAUROC: Double? = nil
  ) {
    self.loss = loss
    self.accuracy = accuracy
    self.balancedAccuracy = balancedAccuracy
    self.macroF1 = macroF1
    self.macroAUROC = macroAUROC
  }

  /// The value of `metric`.
  public func value(of metric: SelectionMetric) -> Double {
    switch metric {
    case .accuracy: return accuracy
    case .balancedAccuracy: return balancedAccuracy
    case .macroF1: return macroF1
    case .macroAUROC: return macroAUROC ?? .nan
    }
  }
}

/// How a training run ended (a study's run status is `Studies.RunStatus`).
public enum TrainingStatus: String, Codable, Sendable {
  /// Every epoch ran.
  case completed
  /// Early stopping ended it.
  case stoppedEarly = "stopped-early"
  /// An error ended it (see `RunSummary.error`).
  case failed
}

/// `summary.json`: the outcome of one training run.
public struct RunSummary: Codable, Equatable, Sendable {
  /// How it ended.
  public var status: TrainingStatus
  /// The one-line error when `status == .failed`.
  public var error: String?
  /// Epochs run.
  public var epochsRun: Int
  /// The epoch whose checkpoint was kept (0: the initial weights).
  public var bestEpoch: Int
  /// The selection metric's value at `bestEpoch`.
  public var bestValidationValue: Double?
  /// The metric followed.
  public var selectionMetric: SelectionMetric
  /// Training images (after the label budget).
  public var trainImages: Int
  /// Total wall-clock seconds.
  public var seconds: Double
  /// Mean training images per second.
  public var imagesPerSecond: Double
  /// Test evaluation of the kept checkpoint, when a test split exists.
  public var test: EvaluationReport?
  /// ‖w − w⁰‖ per backbone stage (w⁰: the starting weights, e.g. ImageNet).
  public var drift: [StageDrift]
  /// The per-epoch logs (also in `metrics.jsonl`).
  public var epochs: [EpochLog] = []
}

/// How far one stage's weights moved during training.
public struct StageDrift: Codable, Equatable, Sendable {
  /// Stage index (0 = stem side) or -1 for the head.
  public var stage: Int
  /// Stage name (`stem`, `stage3`, `head`).
  public var name: String
  /// ‖w − w⁰‖₂ over the stage's parameters.
  public var distance: Double
  /// ‖w⁰‖₂, so the distance can be read relative to the weights' size.
  public var initialNorm: Double

  /// Creates a drift record.
  public init(stage: Int, name: String, distance: Double, initialNorm: Double) {
    self.stage = stage
    self.name = name
    self.distance = distance
    self.initialNorm = initialNorm
  }
}
