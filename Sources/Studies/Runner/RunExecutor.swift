import Foundation

/// The seam between Studies and whatever trains/evaluates: runs one `RunConfig`.
///
/// Studies knows nothing about networks; the Adaptation integration implements this protocol
/// (and `BaselineExecutor` implements it for `baseline:*` arms).
public protocol RunExecutor {
  /// True if this executor can run `arm` (checked for every arm before anything runs).
  func canExecute(_ arm: ArmSpec) -> Bool

  /// Called once per `study run` before any run: generate missing phantom data, fetch missing
  /// weights, fingerprint the datasets. Returns the facts the runner stores and hashes.
  func prepare(_ spec: StudySpec, context: StudyContext) throws -> StudyPreparation

  /// Runs one config to completion and returns its result.
  ///
  /// Throw (any error) for a failed run: the runner records the error text and goes on. For a
  /// failure after partial results (NaN loss at epoch 7), return a result with `failure` set.
  /// May be called again for the same config after a crash: resume from
  /// `context.checkpointDirectory` if something useful is there, or start over.
  func execute(_ run: RunConfig, context: RunContext) throws -> RunResult

  /// The shared source model `run` starts from (one file per source phase, used by every run
  /// with the same source configuration, data and seed), or nil when it has no source phase.
  func sourceModel(for run: RunConfig, context: StudyContext) throws -> URL?

  /// Trains the shared source model of `run` unless it exists. Studies call this for every
  /// source model before any run that needs it; `execute` never trains one.
  func trainSourceModel(for run: RunConfig, context: RunContext) throws
}

extension RunExecutor {
  public func sourceModel(for run: RunConfig, context: StudyContext) throws -> URL? { nil }
  public func trainSourceModel(for run: RunConfig, context: RunContext) throws {}
}

/// Computes the domain-shift analysis for one source → target pair (filled from Metrics).
public protocol ShiftAnalyzer {
  func analyze(
    source: DatasetRef, target: DatasetRef, settings: ShiftSettings, context: StudyContext
  ) throws -> ShiftAnalysisRecord
}

/// Where a study lives and how paths in its spec resolve.
public struct StudyContext: Sendable {
  /// The study folder (holds study.sqlite, checkpoints/, the report).
  public var studyDirectory: URL
  /// The folder of the spec file: relative dataset paths resolve against it.
  public var specDirectory: URL
  /// Cache root for generated data and weights (Interchange's `cacheRoot()` unless a test
  /// gives its own).
  public var cacheDirectory: URL

  public init(studyDirectory: URL, specDirectory: URL, cacheDirectory: URL) {
    self.studyDirectory = studyDirectory
    self.specDirectory = specDirectory
    self.cacheDirectory = cacheDirectory
  }

  /// The absolute location of a dataset path written in the spec.
  public func resolve(_ path: String) -> URL {
    path.hasPrefix("/")
      ? URL(fileURLWithPath: path)
      : specDirectory.appendingPathComponent(path).standardizedFileURL
  }
}

/// What `prepare` found out: dataset fingerprints (hashed into every run) and environment facts
/// (weights SHA-256, versions; shown under Reproducibility).
public struct StudyPreparation: Sendable {
  /// SHA-256 per `DatasetRef.key`.
  public var datasetHashes: [String: String]
  /// Free-form facts, e.g. "weights.efficientnet-lite0.sha256".
  public var environment: [String: String]
  /// Lines about the data to print once per `study run` (rows left out, patients unknown).
  public var notices: [String]
  public init(
    datasetHashes: [String: String] = [:], environment: [String: String] = [:],
    notices: [String] = []
  ) {
    self.datasetHashes = datasetHashes
    self.environment = environment
    self.notices = notices
  }
}

/// Per-run context handed to `execute`.
public struct RunContext {
  public var study: StudyContext
  /// A per-run folder for checkpoints (`checkpoints/<hash prefix>`), created on demand.
  public var checkpointDirectory: URL
  /// The attempt number (1 for the first try; > 1 after a crash or `--retry-failed`).
  public var attempt: Int
  /// Call after each epoch; the runner shows it on the progress line.
  public var reportEpoch: (EpochRecord) -> Void
  /// A log line for stderr (no patient identifiers).
  public var log: (String) -> Void

  public init(
    study: StudyContext, checkpointDirectory: URL, attempt: Int,
    reportEpoch: @escaping (EpochRecord) -> Void = { _ in },
    log: @escaping (String) -> Void = { _ in }
  ) {
    self.study = study
    self.checkpointDirectory = checkpointDirectory
    self.attempt = attempt
    self.reportEpoch = reportEpoch
    self.log = log
  }
}

/// Routes each arm to the first executor that can run it.
public struct RoutingExecutor: RunExecutor {
  public var executors: [any RunExecutor]
  public init(_ executors: [any RunExecutor]) { self.executors = executors }

  public func canExecute(_ arm: ArmSpec) -> Bool { executors.contains { $0.canExecute(arm) } }

  public func prepare(_ spec: StudySpec, context: StudyContext) throws -> StudyPreparation {
    var merged = StudyPreparation()
    for executor in executors where spec.arms.contains(where: executor.canExecute) {
      let p = try executor.prepare(spec, context: context)
      merged.datasetHashes.merge(p.datasetHashes) { old, _ in old }
      merged.environment.merge(p.environment) { _, new in new }
      merged.notices += p.notices.filter { !merged.notices.contains($0) }
    }
    return merged
  }

  public func execute(_ run: RunConfig, context: RunContext) throws -> RunResult {
    try executor(for: run).execute(run, context: context)
  }

  public func sourceModel(for run: RunConfig, context: StudyContext) throws -> URL? {
    try executor(for: run).sourceModel(for: run, context: context)
  }

  public func trainSourceModel(for run: RunConfig, context: RunContext) throws {
    try executor(for: run).trainSourceModel(for: run, context: context)
  }

  private func executor(for run: RunConfig) throws -> any RunExecutor {
    guard let executor = executors.first(where: { $0.canExecute(run.arm) }) else {
      throw StudiesError.runFailed(run: run.label, reason: "no executor for arm \(run.arm.name)")
    }
    return executor
  }
}
