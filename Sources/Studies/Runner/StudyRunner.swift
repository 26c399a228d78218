import Foundation
import Interchange

/// Runs a study: expands the spec, skips finished runs (by config hash), runs the rest through
/// the executor, commits each result in one transaction, runs missing shift analyses.
public final class StudyRunner {
  public let spec: StudySpec
  public let store: StudyStore
  public let context: StudyContext
  private let executor: any RunExecutor
  private let shiftAnalyzer: (any ShiftAnalyzer)?
  private let progress: ProgressPrinter

  /// What a `run()` did.
  public struct Summary: Sendable, Equatable {
    /// Runs in the current spec.
    public var total: Int
    /// Runs already finished before this invocation (skipped).
    public var skipped: Int
    /// Runs finished by this invocation.
    public var finished: Int
    /// Runs that failed in this invocation (recorded with their error).
    public var failed: Int
    /// Failed runs from earlier invocations left alone (use `retryFailed`).
    public var previouslyFailed: Int
    /// Shift analyses computed by this invocation.
    public var shiftAnalyses: Int
  }

  public init(
    spec: StudySpec, store: StudyStore, context: StudyContext, executor: any RunExecutor,
    shiftAnalyzer: (any ShiftAnalyzer)? = nil, progress: ProgressPrinter = ProgressPrinter()
  ) {
    self.spec = spec
    self.store = store
    self.context = context
    self.executor = executor
    self.shiftAnalyzer = shiftAnalyzer
    self.progress = progress
  }

  /// Throws before running anything if an arm has no executor.
  public func checkArms() throws {
    try Self.checkArms(spec, executor: executor)
  }

  /// Throws (one line naming the spec and the arm) if `executor` cannot run an arm of `spec`.
  public static func checkArms(_ spec: StudySpec, executor: any RunExecutor) throws {
    for arm in spec.arms where !executor.canExecute(arm) {
      throw StudiesError.unsupportedArm(
        file: spec.file, arm: arm.name,
        reason: arm.isBaseline
          ? "no baseline executor"
          : "training arms need the Adaptation trainer, which this build does not include yet; "
            + "use baseline:majority-class arms or a build with Adaptation")
    }
  }

  /// The runs of the spec with dataset content hashes filled in from `preparation`.
  public func expand(with preparation: StudyPreparation) -> [RunConfig] {
    spec.expand().map { config in
      var c = config
      c.source.contentHash = preparation.datasetHashes[c.source.key]
      c.target.contentHash = preparation.datasetHashes[c.target.key]
      return c
    }
  }

  /// Everything before the runs: checks the arms, saves the spec (and `command`), generates
  /// missing data and checks the weights, records the environment, registers the runs and
  /// writes the plan (`plan.json`, what `study task` reads). With `announce`, prints the
  /// executor's notices about the data (a sharded worker does not: the process that started
  /// it has printed them).
  @discardableResult
  public func prepare(command: String? = nil, announce: Bool = true) throws
    -> (StudyPreparation, [RunConfig], StudyPlan)
  {
    try checkArms()
    try store.saveStudy(spec)
    if let command { try store.recordCommand(command) }
    let preparation = try executor.prepare(spec, context: context)
    if announce { preparation.notices.forEach(progress.log) }
    var env = EnvironmentProbe.current()
    env.merge(preparation.environment) { _, new in new }
    for (key, hash) in preparation.datasetHashes { env["dataset.\(key).sha256"] = hash }
    try store.saveEnvironment(env)
    let configs = expand(with: preparation)
    try store.register(configs)
    let plan = try StudyPlan(
      spec: spec, runs: configs, datasetHashes: preparation.datasetHashes, executor: executor,
      context: context)
    try store.setCurrentShiftKeys(plan.shifts.map(\.key))
    try plan.write(to: context.studyDirectory)
    return (preparation, configs, plan)
  }

  /// One of `count` processes sharing a study's runs: shard `index` starts with the unfinished
  /// runs at positions ≡ `index` (mod `count`), then takes unclaimed runs of the others; each
  /// run is claimed in the store before it starts, so it runs once. Shard 0 also runs the
  /// shift analyses. Results are identical to an unsharded run (same configs, same seeds).
  /// Runs left `running` by killed workers must be reset first (`StudyStore.resetInterrupted`,
  /// done by `study run --workers`).
  public struct Shard: Sendable, Equatable {
    public var index: Int
    public var count: Int
    public init(index: Int, count: Int) {
      self.index = index
      self.count = count
    }
    /// Parses `K/N` with 1 ≤ K ≤ N (one-based on the command line).
    public init?(parsing text: String) {
      let parts = text.split(separator: "/").compactMap { Int($0) }
      guard parts.count == 2, parts[1] >= 1, (1...parts[1]).contains(parts[0]) else { return nil }
      self.init(index: parts[0] - 1, count: parts[1])
    }
    func owns(_ position: Int) -> Bool { position % count == index }
  }

  /// Runs everything not yet finished. `retryFailed` also redoes runs that failed before.
  /// With `shard`, only that shard's runs (several processes can share one study folder: the
  /// store is SQLite in WAL mode, and a shared source model is trained under a file lock).
  ///
  /// Every unit of work goes through `StudyTask` and its file, imported into the store as it
  /// appears (as `study merge` imports a Slurm array's files): result files already in the
  /// study folder are imported first, then the shift analyses, then the runs, each after the
  /// shared source model it starts from.
  @discardableResult
  public func run(retryFailed: Bool = false, command: String? = nil, shard: Shard? = nil) throws
    -> Summary
  {
    let (_, configs, plan) = try prepare(command: command, announce: shard == nil)
    for problem in try StudyMerge.merge(store: store).problems { progress.log(problem) }
    let stored = try store.runs()
    let byHash = Dictionary(stored.map { ($0.hash, $0) }, uniquingKeysWith: { a, _ in a })
    var summary = Summary(
      total: configs.count, skipped: 0, finished: 0, failed: 0, previouslyFailed: 0,
      shiftAnalyses: 0)
    var todo: [(index: Int, config: RunConfig, stored: StoredRun)] = []
    for index in Self.toRun(configs, stored: byHash, retryFailed: retryFailed) {
      todo.append((index, configs[index], byHash[configs[index].hash]!))
    }
    summary.skipped = configs.filter { byHash[$0.hash]?.status == .finished }.count
    summary.previouslyFailed =
      retryFailed ? 0 : configs.filter { byHash[$0.hash]?.status == .failed }.count
    if let shard {
      // Own runs first, then the others' (from the far end): a worker that runs out of its
      // own share takes over unclaimed runs of the other, so neither sits idle.
      let own = todo.enumerated().filter { shard.owns($0.offset) }.map(\.element)
      let rest = todo.enumerated().filter { !shard.owns($0.offset) }.map(\.element)
      todo = own + rest.reversed()
    }
    progress.start(
      total: summary.total, alreadyDone: summary.skipped + summary.previouslyFailed,
      toRun: todo.count)
    let task = StudyTask(executor: executor, context: context, progress: progress)

    if shard.map({ $0.index == 0 }) ?? true {
      summary.shiftAnalyses = try runShiftAnalyses(plan: plan, task: task)
    }
    var sourceModel: [Int: StudyPlan.SourceModel] = [:]
    for model in plan.sourceModels { for i in model.runs { sourceModel[i] = model } }
    var failedSourceModels = Set<String>()

    // A worker whose next run needs a source model another worker is training takes the runs
    // after it first (training the next source model itself, say) and comes back to it once;
    // waiting idled a worker for 1.5–2 min per source model in shift-vs-drop. Results do not
    // depend on the order.
    var queue = todo[...]
    var deferred = Set<Int>()
    while let (index, config, stored) = queue.popFirst() {
      if shard != nil, let model = sourceModel[index], !deferred.contains(index),
        queue.contains(where: { !deferred.contains($0.index) }),
        task.sourceModelIsBeingTrained(model, plan: plan)
      {
        deferred.insert(index)
        queue.append((index, config, stored))
        continue
      }
      let hash = config.hash
      if shard != nil {
        // Another worker may have claimed or finished it since the list was made.
        guard try store.claim(hash: hash, includeFailed: retryFailed) else { continue }
      } else {
        try store.markRunning(hash: hash)
      }
      // Its shared source model first, by the source-model task (trained here, or waited for
      // under its lock while another worker trains it). A failed one is tried once; the runs
      // that need it then fail with the reason.
      if let model = sourceModel[index], !failedSourceModels.contains(model.file) {
        do {
          try task.trainSourceModel(model, plan: plan)
        } catch {
          failedSourceModels.insert(model.file)
          progress.log("source model \(model.file) failed: \(error)")
        }
      }
      let file = try task.run(config, attempt: stored.attempts + 1)
      try store.importResult(file)
      if let result = file.result, file.status == .finished {
        summary.finished += 1
        progress.runFinished(
          config, result: result, metric: spec.report.metric, seconds: file.wallSeconds)
      } else {
        summary.failed += 1
        progress.runFailed(config, error: file.error ?? "failed", seconds: file.wallSeconds)
      }
    }
    progress.finish(summary)
    return summary
  }

  /// Positions of `configs` still to run: registered in `stored` (by hash) and neither
  /// finished nor, unless `retryFailed`, failed. What `study run` runs and `study submit`
  /// submits.
  public static func toRun(_ configs: [RunConfig], stored: [String: StoredRun], retryFailed: Bool)
    -> [Int]
  {
    configs.indices.filter { i in
      switch stored[configs[i].hash]?.status {
      case nil, .finished: return false
      case .failed: return retryFailed
      case .pending, .running: return true
      }
    }
  }

  /// Identity of a shift analysis: the pair, their content hashes and the settings.
  public static func shiftKey(source: DatasetRef, target: DatasetRef, settings: ShiftSettings)
    -> String
  {
    struct Key: Encodable {
      var source: DatasetRef
      var target: DatasetRef
      var settings: ShiftSettings
    }
    let data =
      (try? JSONCoding.encoder(.canonical).encode(
        Key(source: source, target: target, settings: settings))) ?? Data()
    return sha256Hex(data)
  }

  private func runShiftAnalyses(plan: StudyPlan, task: StudyTask) throws -> Int {
    var done = 0
    let existing = try store.shiftKeys()
    for pair in plan.shifts where !existing.contains(pair.key) {
      let names = "\(pair.source.label) → \(pair.target.label)"
      guard let analyzer = shiftAnalyzer else {
        progress.log(
          "shift analysis \(names) skipped: this build has no shift analyzer (Metrics "
            + "integration)")
        continue
      }
      let start = Date()
      do {
        try store.importShift(try task.analyzeShift(pair, settings: spec.shift, analyzer: analyzer))
        done += 1
        progress.log(
          String(
            format: "shift analysis %@ done in %.1f s", names, Date().timeIntervalSince(start)))
      } catch let error as StudiesError {
        if case .store = error { throw error }
        progress.log("shift analysis \(names) failed: \(error)")
      } catch {
        progress.log("shift analysis \(names) failed: \(error)")
      }
    }
    return done
  }
}
