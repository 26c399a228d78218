import Adaptation
import Foundation
import Interchange

/// The units of a study's work, each ending in a file in the study folder: one planned run
/// (`results/<hash>.json`), one shared source model (`source-models/…`), one shift analysis
/// (`results/shift-<key>.json`). `study run` runs them in this process (or in `--workers`
/// processes) and imports each file as it appears; on Slurm each is an array task
/// (`study task`) and `study merge` imports the files. One code path, so a study gives the
/// same results either way.
public struct StudyTask {
  public let executor: any RunExecutor
  public let context: StudyContext
  public let progress: ProgressPrinter

  public init(executor: any RunExecutor, context: StudyContext, progress: ProgressPrinter) {
    self.executor = executor
    self.context = context
    self.progress = progress
  }

  /// The per-run checkpoint folder (`checkpoints/<hash prefix>`).
  public func checkpointDirectory(_ config: RunConfig) -> URL {
    context.studyDirectory.appendingPathComponent("checkpoints/\(config.hash.prefix(16))")
  }

  /// The attempt a task without a store is on: one more than a result file already there
  /// records (a failed run tried again), else 2 when an earlier attempt left checkpoints (it
  /// was stopped; the run resumes from them), else 1.
  public func attempt(for config: RunConfig) -> Int {
    if let earlier = try? RunResultFile.read(
      RunResultFile.url(hash: config.hash, in: context.studyDirectory))
    {
      return earlier.attempt + 1
    }
    let leftovers = FileManager.default.fileExists(atPath: checkpointDirectory(config).path)
    return leftovers ? 2 : 1
  }

  /// Runs `config` to its result file (finished, or failed with the reason) and returns it.
  /// Throws only when the study folder cannot be written.
  @discardableResult
  public func run(_ config: RunConfig, attempt: Int) throws -> RunResultFile {
    let runContext = RunContext(
      study: context, checkpointDirectory: checkpointDirectory(config), attempt: attempt,
      reportEpoch: { [progress] epoch in progress.epoch(config, epoch, of: config.training.epochs)
      },
      log: { [progress] line in progress.log(line) })
    let start = Date()
    let file: RunResultFile
    do {
      var result = try executor.execute(config, context: runContext)
      if result.failure == nil, let problem = Self.nonFinite(result) {
        result.failure = problem
      }
      file = RunResultFile(config: config, result: result, attempt: attempt)
    } catch let error as StudiesError {
      if case .store = error { throw error }  // the study folder itself is broken: stop
      file = RunResultFile(
        config: config, error: error.description,
        wallSeconds: Date().timeIntervalSince(start), attempt: attempt)
    } catch {
      file = RunResultFile(
        config: config, error: String(describing: error),
        wallSeconds: Date().timeIntervalSince(start), attempt: attempt)
    }
    try file.write(in: context.studyDirectory)
    return file
  }

  /// Trains the plan's source model `model` unless its file exists (processes that share the
  /// study folder wait on its lock, so it is trained once). Throws when training failed.
  public func trainSourceModel(_ model: StudyPlan.SourceModel, plan: StudyPlan) throws {
    let url = plan.url(of: model, in: context.studyDirectory)
    if FileManager.default.fileExists(atPath: url.path) { return }
    let config = plan.runs[model.runs[0]]
    let start = Date()
    let runContext = RunContext(
      study: context, checkpointDirectory: URL(fileURLWithPath: url.path + ".work"), attempt: 1,
      log: { [progress] line in progress.log(line) })
    try executor.trainSourceModel(for: config, context: runContext)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw StudiesError.runFailed(
        run: "source model \(url.lastPathComponent)",
        reason: "the executor did not write \(url.path)")
    }
    progress.log(
      "source model \(url.lastPathComponent) (\(config.source.label)): ready after "
        + ProgressPrinter.duration(Date().timeIntervalSince(start)))
  }

  /// Whether another worker is training `model` right now (its file is missing and its lock
  /// is held): a worker then takes other runs first instead of waiting for it.
  public func sourceModelIsBeingTrained(_ model: StudyPlan.SourceModel, plan: StudyPlan) -> Bool {
    let url = plan.url(of: model, in: context.studyDirectory)
    return !FileManager.default.fileExists(atPath: url.path)
      && FileLock.isHeld(path: SourceTargetProtocol.sourceModelLockPath(url))
  }

  /// Computes the shift analysis `pair` with `analyzer` and writes its file.
  @discardableResult
  public func analyzeShift(
    _ pair: StudyPlan.ShiftPair, settings: ShiftSettings, analyzer: any ShiftAnalyzer
  ) throws -> ShiftResultFile {
    let record = try analyzer.analyze(
      source: pair.source, target: pair.target, settings: settings, context: context)
    let file = ShiftResultFile(key: pair.key, record: record)
    try file.write(in: context.studyDirectory)
    return file
  }

  /// A description of the first non-finite headline number, if any (recorded as a failure).
  static func nonFinite(_ result: RunResult) -> String? {
    let values: [(String, Double)] = [
      ("target accuracy", result.target.accuracy),
      ("target balanced accuracy", result.target.balancedAccuracy),
      ("target macro-F1", result.target.macroF1),
    ]
    for (name, v) in values where !v.isFinite { return "\(name) is \(v) (not a number)" }
    if let loss = result.epochs.last?.trainLoss, !loss.isFinite {
      return "train loss is \(loss) at epoch \(result.epochs.last!.epoch)"
    }
    return nil
  }
}
