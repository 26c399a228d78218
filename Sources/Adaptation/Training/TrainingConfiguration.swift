import Foundation

/// Where a run's backbone weights come from.
public enum Initialization: Equatable, Hashable, Sendable, CustomStringConvertible {
  /// The named pretrained backbone (e.g. `efficientnet-lite0`).
  case pretrained(String)
  /// The named architecture, He (fan-out) initialised.
  case scratch(String)

  /// Parses `pretrained:NAME` or `scratch[:NAME]` (NAME defaults to `efficientnet-lite0`).
  public init(parsing text: String) throws {
    let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
    let name = parts.count > 1 ? parts[1] : "efficientnet-lite0"
    switch parts.first ?? "" {
    case "pretrained": self = .pretrained(name)
    case "scratch": self = .scratch(name)
    default:
      throw AdaptationError.badRegularizer(
        spec: text, reason: "--init takes pretrained:NAME or scratch[:NAME]")
    }
  }

  /// The architecture name.
  public var architecture: String {
    switch self {
    case .pretrained(let n), .scratch(let n): return n
    }
  }

  /// Whether pretrained weights are loaded.
  public var isPretrained: Bool {
    if case .pretrained = self { return true }
    return false
  }

  /// `pretrained:NAME` or `scratch:NAME`.
  public var description: String {
    switch self {
    case .pretrained(let n): return "pretrained:\(n)"
    case .scratch(let n): return "scratch:\(n)"
    }
  }
}

extension Initialization: Codable {
  public init(from decoder: Decoder) throws {
    try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
  }
  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(description)
  }
}

/// The optimizer family; it decides how `weightDecay` acts.
public enum OptimizerKind: String, Codable, Hashable, Sendable {
  /// SGD with momentum: weight decay is coupled (added to the gradient, = L2 in the loss).
  case sgd
  /// AdamW: weight decay is decoupled (applied to the weights, outside the adaptive step).
  case adamw
}

/// A classification metric by name, higher is better: what early stopping and checkpoint
/// selection follow (`train --metric`, a study's `training.monitor`) and a study report's
/// headline metric (`report.metric`). The one metric vocabulary of MedTransfer.
///
/// The raw values are the spellings study run hashes cover; `init(name:)` also accepts the
/// hyphenated ones the CLI used (`balanced-accuracy`, `macro-f1`, `macro-auroc`).
public enum SelectionMetric: String, Codable, Hashable, Sendable, CaseIterable {
  case accuracy
  case balancedAccuracy = "balanced_accuracy"
  case macroF1 = "macro_f1"
  /// Macro one-vs-rest AUROC.
  case macroAUROC = "auroc"

  /// Parses a metric name in either spelling (nil if unknown).
  public init?(name: String) {
    let t = name.trimmingCharacters(in: .whitespaces).lowercased()
      .replacingOccurrences(of: "-", with: "_")
    switch t {
    case "macro_auroc": self = .macroAUROC
    default:
      guard let metric = SelectionMetric(rawValue: t) else { return nil }
      self = metric
    }
  }

  /// Reads either spelling (`config.json` files written before the enums were merged say
  /// `balanced-accuracy`).
  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    let text = try c.decode(String.self)
    guard let metric = SelectionMetric(name: text) else {
      throw DecodingError.dataCorruptedError(
        in: c, debugDescription: "unknown metric '\(text)'")
    }
    self = metric
  }

  /// Every accepted name, canonical spelling, for error messages.
  public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

  /// Human label for tables and axes.
  public var title: String {
    switch self {
    case .accuracy: return "accuracy"
    case .balancedAccuracy: return "balanced accuracy"
    case .macroF1: return "macro-F1"
    case .macroAUROC: return "AUROC"
    }
  }
}

/// Everything that decides what one training run does, apart from the data.
///
/// Codable and hashable: written to `config.json`, and the Studies module keys results by it.
public struct TrainingConfiguration: Codable, Hashable, Sendable {
  /// Backbone weights source and architecture.
  public var initialization: Initialization = .pretrained("efficientnet-lite0")
  /// Which parameters are trained.
  public var strategy: Strategy = .full
  /// The weight penalty in the loss (L2-SP or zero-anchored L2).
  public var regularizer: RegularizerSpec = .none
  /// Head dropout rate.
  public var dropout: Double = 0.2
  /// Width of an optional hidden layer in the head (ReLU6), nil for a single Linear.
  public var hiddenUnits: Int? = nil
  /// Optimizer family.
  public var optimizer: OptimizerKind = .adamw
  /// Head learning rate (peak, after warmup).
  public var learningRate: Double = 1e-3
  /// Backbone learning rate as a fraction of the head's (`full`/`partial`/`scratch`).
  public var backboneLearningRateScale: Double = 1
  /// Optimizer weight decay (coupled for SGD, decoupled for AdamW).
  public var weightDecay: Double = 1e-4
  /// SGD momentum.
  public var momentum: Double = 0.9
  /// Maximum epochs.
  public var epochs: Int = 20
  /// Mini-batch size.
  public var batchSize: Int = 32
  /// At least this many optimizer steps per epoch: small label budgets pass over their images
  /// several times per epoch (reshuffled each pass). Without it, 5 labels per class at batch 16
  /// gave 2 steps an epoch, and no arm learned anything in 12 epochs. nil: one pass.
  public var minimumStepsPerEpoch: Int? = 10
  /// Linear warmup epochs of the cosine schedule.
  public var warmupEpochs: Int = 1
  /// Early-stopping patience in epochs (nil: run all epochs, still keep the best checkpoint).
  public var patience: Int? = 5
  /// The validation metric followed by early stopping.
  public var selectionMetric: SelectionMetric = .balancedAccuracy
  /// Deep CORAL loss weight with unlabelled target batches (nil: off).
  public var coralWeight: Double? = nil
  /// BatchNorm running-statistics momentum while training (PyTorch convention), nil: keep the
  /// network's own. EfficientNet-Lite ships 0.01 (TF's 0.99), tuned for ImageNet's millions of
  /// steps; a fine-tune of a few hundred steps would then evaluate with mostly ImageNet (or, from
  /// scratch, mostly initial) statistics, so the default is PyTorch's usual 0.1.
  public var batchNormMomentum: Double? = 0.1
  /// Seeded data augmentation on training batches.
  public var augment: Bool = true
  /// Re-estimate BatchNorm statistics on the target images before training (AdaBN).
  public var adaBN: Bool = false
  /// Square input size in pixels.
  public var inputSize: Int = 128
  /// Labels per class taken from the training split (nested budgets); nil: all.
  public var labelsPerClass: Int? = nil
  /// The seed of initialisation, splits, budgets, augmentation and dropout.
  public var seed: Int = 0
  /// L2 strength of `features+logreg`'s logistic regression.
  public var logisticL2: Double = 1e-2

  /// The default configuration.
  public init() {}
}
