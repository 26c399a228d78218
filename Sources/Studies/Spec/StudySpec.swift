import Adaptation
import Datasets
import Foundation
import Metrics

/// A parsed, validated study spec (`studies/*.yaml`): what to compare on which data.
///
/// Every field a researcher would not care about has a default; see `StudySpec.parse`.
public struct StudySpec: Codable, Sendable, Equatable {
  /// Study name (default: the spec file's name without extension); names the report folder.
  public var name: String
  /// Free text shown at the top of the report.
  public var description: String
  /// The domain the model is first trained on (and forgetting is measured on).
  public var source: DatasetRef
  /// The domains adapted to; each is a separate set of runs.
  public var targets: [DatasetRef]
  /// Backbone name (default `efficientnet-lite0`).
  public var backbone: String
  /// Square input size in pixels (default 128).
  public var inputSize: Int
  /// The arms compared, in spec order.
  public var arms: [ArmSpec]
  /// Target labels per class, ascending, `all` last.
  public var budgets: [LabelBudget]
  /// Per-arm budget subsets (arm name → budgets), for arms written as
  /// `{arm: full+l2sp(1), budgets: [50]}`; other arms run at every budget.
  public var armBudgets: [String: [LabelBudget]] = [:]
  /// Per-arm training overrides (arm name → override), for arms written as
  /// `{arm: scratch, source_epochs: 40}`: training from random weights needs more steps than
  /// fine-tuning. Other arms use `training`. Optional so that specs stored before it existed
  /// still decode.
  public var armTraining: [String: ArmTrainingOverride]? = nil
  /// The input window (`preprocessing: {window: …}`) as `Preprocessing.Window`'s canonical
  /// text (`file`, `40,400`, `p1,99`); nil: `auto`, the default. Part of every run's hash
  /// only when set, so specs without it keep their run hashes.
  public var window: String? = nil
  /// Seeds; every arm × target × budget runs once per seed (paired across arms).
  public var seeds: [Int]
  public var training: TrainingSettings
  public var shift: ShiftSettings
  public var report: ReportSettings
  /// The original YAML text (stored with the study and shown in the report).
  public var yaml: String
  /// The spec path as given on the command line (not part of any run's hash).
  public var file: String
  /// What to do with bad rows and undecodable images (`data.on_bad`); nil: the default for
  /// studies, `.skip`, which leaves them out and lists them once (stderr and
  /// `skipped-rows.txt` in the study folder). Not part of any run's hash.
  public var onBad: OnBad? = nil

  /// `onBad` with the studies' default applied.
  public var badRowPolicy: OnBad { onBad ?? .skip }

  /// Expands arms × targets × budgets × seeds into runs, in a stable order
  /// (target, budget, seed, arm: arms of one seed run next to each other, so a study stopped
  /// early still has paired comparisons).
  public func expand() -> [RunConfig] {
    var runs: [RunConfig] = []
    for target in targets {
      for budget in budgets {
        for seed in seeds {
          for arm in arms where armBudgets[arm.name]?.contains(budget) ?? true {
            var settings = training
            if let o = armTraining?[arm.name] {
              if let v = o.epochs { settings.epochs = v }
              if let v = o.patience { settings.patience = v }
              if let v = o.sourceEpochs { settings.sourceEpochs = v }
            }
            var run = RunConfig(
              arm: arm, source: source, target: target, budget: budget, seed: seed,
              backbone: backbone, inputSize: inputSize, training: settings)
            run.window = window
            runs.append(run)
          }
        }
      }
    }
    return runs
  }
}

/// Training settings one arm overrides (nil: the study's `training` value).
public struct ArmTrainingOverride: Codable, Sendable, Hashable {
  public var epochs: Int?
  public var patience: Int?
  public var sourceEpochs: Int?
  public init(epochs: Int? = nil, patience: Int? = nil, sourceEpochs: Int? = nil) {
    self.epochs = epochs
    self.patience = patience
    self.sourceEpochs = sourceEpochs
  }
}

/// A dataset named by a spec: a manifest CSV or a phantom-generator spec, plus a site/domain.
public struct DatasetRef: Codable, Sendable, Hashable, CustomStringConvertible {
  public enum Kind: String, Codable, Sendable, Hashable {
    /// A manifest CSV (`path,label[,domain][,patient][,split]`).
    case manifest
    /// A phantom generator spec (`datasets/*.yaml`) rendered for one site.
    case generator
  }
  public var kind: Kind
  /// The path as written in the spec, resolved against the spec file's folder at run time.
  public var path: String
  /// Generator site, or the manifest's `domain` value to keep (nil: all rows).
  public var site: String?
  /// Generator seed (nil: the generator's default).
  public var seed: Int?
  /// SHA-256 of the data as prepared (manifest bytes, or the generated manifest); filled in by
  /// the executor's `prepare` so a changed dataset changes every run's hash.
  public var contentHash: String?

  public init(
    kind: Kind, path: String, site: String? = nil, seed: Int? = nil, contentHash: String? = nil
  ) {
    self.kind = kind
    self.path = path
    self.site = site
    self.seed = seed
    self.contentHash = contentHash
  }

  /// Short label for reports: the site, or the manifest file name.
  public var label: String {
    site ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
  }

  /// Identity without the content hash (used to look hashes up).
  public var key: String {
    "\(kind.rawValue):\(path)#\(site ?? "*")@\(seed.map(String.init) ?? "-")"
  }

  public var description: String { "\(kind.rawValue) \(path)\(site.map { " site \($0)" } ?? "")" }
}

/// The metric vocabulary of a study is Adaptation's one `SelectionMetric` (`monitor`,
/// `report.metric`), re-exported for Reports.
public typealias MetricName = SelectionMetric

/// Training settings shared by every trained arm (part of every run's hash): overrides of
/// Adaptation's `TrainingConfiguration`, whose defaults they start from, so `train` and a study
/// train the same way unless told otherwise. Strategy and regularizers come from the arm
/// (`ArmSpec.apply`).
public struct TrainingSettings: Codable, Sendable, Hashable {
  private static let defaults = TrainingConfiguration()
  /// Maximum epochs.
  public var epochs: Int = defaults.epochs
  /// Stop after this many epochs without improvement of `monitor` (0 = never).
  public var patience: Int = defaults.patience ?? 0
  /// Validation metric for early stopping and the best checkpoint.
  public var monitor: MetricName = defaults.selectionMetric
  public var batchSize: Int = defaults.batchSize
  /// Optimizer: `sgd` (momentum 0.9, coupled weight decay) or `adamw`.
  public var optimizer: OptimizerKind = defaults.optimizer
  /// Learning rate for the head (nil: the optimizer's default, 1e-3 for AdamW, 0.01 for SGD).
  public var learningRate: Double?
  /// Backbone learning rate as a fraction of the head's.
  public var backboneLearningRateScale: Double = defaults.backboneLearningRateScale
  /// Weight decay (L2-SP arms replace it on the shared weights).
  public var weightDecay: Double = defaults.weightDecay
  /// Seeded augmentation (flips, small affine, intensity) on/off.
  public var augment: Bool = defaults.augment
  /// Epochs on the source domain before target adaptation (default: same as `epochs`).
  public var sourceEpochs: Int?
  /// Free-form options passed to the executor verbatim (hashed like everything else).
  public var options: [String: String] = [:]

  public init() {}
}

/// Which domain-shift analyses to run between the source and each target: Metrics' own list,
/// so the spec names exactly what `ShiftAnalysis.run` can compute.
public typealias ShiftAnalysisKind = ShiftAnalysis.Kind

/// Settings for the shift analyses (source vs each target).
public struct ShiftSettings: Codable, Sendable, Hashable {
  /// Analyses to run (default all; `[]` to skip).
  public var analyses: [ShiftAnalysisKind] = ShiftAnalysisKind.allCases
  /// Permutations for permutation p-values (default 1000).
  public var permutations: Int = 1000
  /// Bootstrap resamples for CIs (default 1000).
  public var bootstrap: Int = 1000
  /// At most this many images per domain enter the feature-based analyses (default 500).
  public var maxImages: Int = 500

  public init() {}
}

/// Report settings (not part of any run's hash).
public struct ReportSettings: Codable, Sendable, Hashable {
  /// The headline metric on the target test set (default balanced accuracy).
  public var metric: MetricName = .balancedAccuracy
  /// Validation metric value for "time to target" (nil: 95 % of the best arm's final mean).
  public var targetValue: Double?
  /// Confidence level of every interval (default 0.95).
  public var confidence: Double = 0.95
  /// Output folder (nil: `Reports/<name>` under the current directory).
  public var output: String?

  public init() {}
}
