import ArgumentParser
import Foundation
import Interchange
import Neural
import Reports
import Studies

/// `medtransfer study submit SPEC`: the study as Slurm jobs.
struct StudySubmitCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "submit",
    abstract: "Run a study on a Slurm cluster: job arrays for its source models and runs, then "
      + "a job that merges the results and writes the report.",
    discussion: """
      Plans the runs exactly as `study run` does (same run hashes) and prepares the data here \
      (generated datasets are rendered once into STUDY_DIR/cache, which every node must see). \
      Then submits, with sbatch: an array job training the shared source models (one task \
      each), an array job of the runs without a result (at most --max-parallel at once) that \
      starts after it, a job for the shift analyses, and a finalize job that runs `study merge` \
      once all of them ended, whether or not every task succeeded. Each task writes one result \
      file into STUDY_DIR/results; the SQLite store is written only by the merge. Submitting \
      again submits only the runs that still have no result (a task stopped by a time limit, \
      scancel or a node failure leaves none). The sbatch scripts are kept in STUDY_DIR/slurm.
      """)

  @Argument(help: "The study spec (YAML).")
  var spec: String

  @Option(name: .long, help: "Study folder, on storage every node sees. Default: Reports/<name>.")
  var out: String?

  @Option(name: .long, help: "Slurm partition (default: the cluster's default partition).")
  var partition: String?

  @Option(name: .long, help: "Time limit per task, as Slurm reads it (e.g. 01:00:00).")
  var time: String?

  @Option(name: .long, help: "CPUs per task; the task's kernels use that many threads.")
  var cpusPerTask: Int = 1

  @Option(name: .long, help: "Memory per task, as Slurm reads it (e.g. 4G).")
  var mem: String?

  @Option(name: .long, help: "At most this many runs at once (the array's %K throttle).")
  var maxParallel: Int?

  @Flag(name: .long, help: "Also submit runs that failed before.")
  var retryFailed = false

  @Flag(name: .long, help: "Write the sbatch scripts into STUDY_DIR/slurm; submit nothing.")
  var dryRun = false

  func validate() throws {
    guard cpusPerTask >= 1 else { throw ValidationError("--cpus-per-task must be at least 1") }
    if let maxParallel, maxParallel < 1 {
      throw ValidationError("--max-parallel must be at least 1")
    }
  }

  func run() throws {
    try studyErrors {
      // Everything that can be wrong is checked before anything is written or submitted.
      let spec = try StudySpec.load(file: self.spec)
      if !dryRun { try Slurm.requireTools(["sbatch", "squeue", "sinfo"]) }
      if let partition, dryRun ? Slurm.which("sinfo") != nil : true {
        let known = try Slurm.partitions()
        guard known.contains(partition) else {
          throw CLIError(
            "--partition \(partition): Slurm does not know this partition (sinfo lists: "
              + "\(known.joined(separator: ", "))); pass one of those")
        }
      }
      // Task IDs are plan positions, so the plan must fit the cluster's array size.
      let planned = spec.expand().count
      if !dryRun, let limit = Slurm.maxArraySize(), planned > limit {
        throw CLIError(
          "\(self.spec): \(planned) runs, but this cluster's MaxArraySize is \(limit) (array "
            + "task IDs must be below it); ask its administrators to raise MaxArraySize in "
            + "slurm.conf, or split the study into specs of at most \(limit) runs")
      }
      let folder = URL(
        fileURLWithPath: out ?? spec.report.output ?? "Reports/\(spec.name)"
      ).standardizedFileURL
      if !dryRun, let active = Self.activeJobs(in: folder), !active.isEmpty {
        throw CLIError(
          "\(folder.path): jobs \(active.joined(separator: ", ")) of an earlier submission are "
            + "still queued or running; wait for them (medtransfer study status "
            + "\(folder.path)) or scancel them, then submit again")
      }
      let cache = folder.appendingPathComponent("cache")
      let setup = try StudySetup(specPath: self.spec, out: folder.path, cache: cache)
      let store = try StudyStore(directory: setup.directory)
      try store.saveEnvironment(["medtransfer.version": MedTransferVersion.string])
      let command = (["medtransfer"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
      let (_, _, plan) = try setup.runner(store: store).prepare(command: command)
      for problem in try StudyMerge.merge(store: store).problems {
        FileHandle.standardError.write(Data((problem + "\n").utf8))
      }
      let work = try Self.remainingWork(plan: plan, store: store, setup: setup, retry: retryFailed)
      let resources = SlurmResources(
        partition: partition, time: time, cpusPerTask: cpusPerTask, memory: mem,
        maxParallel: maxParallel)
      let scripts = try SlurmScripts(
        setup: setup, specPath: URL(fileURLWithPath: self.spec).standardizedFileURL.path,
        cache: cache, resources: resources
      ).write(work)
      try submit(work, scripts: scripts, plan: plan, folder: setup.directory)
    }
  }

  /// What a submission has to do: plan positions of runs without a result, of the source
  /// models those runs need that are not trained yet, and of the missing shift analyses.
  struct Work {
    var runs: [Int]
    var sourceModels: [Int]
    var shifts: [Int]
  }

  static func remainingWork(plan: StudyPlan, store: StudyStore, setup: StudySetup, retry: Bool)
    throws -> Work
  {
    let stored = Dictionary(try store.runs().map { ($0.hash, $0) }, uniquingKeysWith: { a, _ in a })
    let runs = StudyRunner.toRun(plan.runs, stored: stored, retryFailed: retry)
    let needed = Set(runs)
    let models = plan.sourceModels.indices.filter { i in
      let model = plan.sourceModels[i]
      return !needed.isDisjoint(with: model.runs)
        && !FileManager.default.fileExists(atPath: plan.url(of: model, in: setup.directory).path)
    }
    let existing = try store.shiftKeys()
    let shifts = plan.shifts.indices.filter { !existing.contains(plan.shifts[$0].key) }
    return Work(runs: runs, sourceModels: models, shifts: shifts)
  }

  /// Job IDs of the last submission that Slurm still has queued or running (nil: none known).
  static func activeJobs(in folder: URL) -> [String]? {
    guard let last = SlurmSubmission.all(in: folder).last else { return nil }
    guard let states = Slurm.queue(jobs: last.jobIDs) else { return nil }
    let active = Set(states.keys.map { String($0.split(separator: "_")[0]) })
    return last.jobIDs.filter(active.contains)
  }

  private func submit(_ work: Work, scripts: SlurmScripts.Written, plan: StudyPlan, folder: URL)
    throws
  {
    let say = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    let total = plan.runs.count
    if dryRun {
      say("dry run: wrote the sbatch scripts, submitted nothing")
      for url in scripts.all { say("  \(url.path)") }
      say(
        "would submit: \(work.sourceModels.count) source model(s), \(work.runs.count) of "
          + "\(total) run(s), \(work.shifts.count) shift analysis(es), then the finalize job")
      return
    }
    guard !(work.runs.isEmpty && work.sourceModels.isEmpty && work.shifts.isEmpty) else {
      say(
        "nothing to submit: all \(total) runs of \(plan.study) have results; merge and report "
          + "with: medtransfer study merge \(folder.path)")
      return
    }
    var sourceJob: String?
    if let script = scripts.sourceModels { sourceJob = try Slurm.sbatch(script) }
    var runsJob: String?
    if let script = scripts.runs {
      runsJob = try Slurm.sbatch(script, dependency: sourceJob.map { "afterany:\($0)" })
    }
    var shiftJob: String?
    if let script = scripts.shifts { shiftJob = try Slurm.sbatch(script) }
    let before = [sourceJob, runsJob, shiftJob].compactMap { $0 }
    let finalizeJob = try Slurm.sbatch(
      scripts.finalize, dependency: "afterany:" + before.joined(separator: ":"))
    try SlurmSubmission.append(
      SlurmSubmission(
        submittedAt: ISO8601DateFormatter().string(from: Date()), sourceModelsJob: sourceJob,
        runsJob: runsJob, shiftJob: shiftJob, finalizeJob: finalizeJob, runs: work.runs,
        sourceModels: work.sourceModels, shifts: work.shifts),
      in: folder)
    say("submitted \(plan.study) to Slurm (\(folder.path)):")
    if let sourceJob {
      say("  source models   job \(sourceJob)  (array of \(work.sourceModels.count))")
    }
    if let runsJob {
      say(
        "  runs            job \(runsJob)  (array of \(work.runs.count) of \(total) runs"
          + (maxParallel.map { ", at most \($0) at once" } ?? "")
          + (sourceJob.map { ", after job \($0)" } ?? "") + ")")
    }
    if let shiftJob { say("  shift analyses  job \(shiftJob)  (array of \(work.shifts.count))") }
    say("  merge + report  job \(finalizeJob)  (after the others, whether or not they succeed)")
    say("follow it: medtransfer study status \(folder.path)   (or: squeue -j \(finalizeJob))")
  }
}

/// The sbatch scripts of a submission, written into `<study>/slurm/` (logs in `slurm/logs/`).
struct SlurmScripts {
  let setup: StudySetup
  let specPath: String
  let cache: URL
  let resources: SlurmResources

  struct Written {
    var sourceModels: URL?
    var runs: URL?
    var shifts: URL?
    var finalize: URL
    var all: [URL] { [sourceModels, runs, shifts, finalize].compactMap { $0 } }
  }

  /// Writes the scripts `work` needs (an array with no task gets no script).
  func write(_ work: StudySubmitCommand.Work) throws -> Written {
    let folder = setup.directory.appendingPathComponent("slurm")
    try FileManager.default.createDirectory(
      at: folder.appendingPathComponent("logs"), withIntermediateDirectories: true)
    func script(_ file: String, _ text: String) throws -> URL {
      let url = folder.appendingPathComponent(file)
      try text.write(to: url, atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
      return url
    }
    let task =
      "study task \(Slurm.quoted(specPath)) --out \(Slurm.quoted(setup.directory.path))"
      + " --cache \(Slurm.quoted(cache.path))"
    return Written(
      sourceModels: try work.sourceModels.isEmpty
        ? nil
        : script(
          "source-models.sbatch",
          body(
            "source-models", array: work.sourceModels,
            command: "\(task) --source-model \"$SLURM_ARRAY_TASK_ID\"",
            note: "Trains the shared source models the runs start from, one per task.")),
      runs: try work.runs.isEmpty
        ? nil
        : script(
          "runs.sbatch",
          body(
            "runs", array: work.runs, command: "\(task) --index \"$SLURM_ARRAY_TASK_ID\"",
            note: "One planned run per task (the task ID is its position in plan.json); "
              + "submitted with --dependency=afterany:<source-models job>.")),
      shifts: try work.shifts.isEmpty
        ? nil
        : script(
          "shift.sbatch",
          body(
            "shift", array: work.shifts, command: "\(task) --shift \"$SLURM_ARRAY_TASK_ID\"",
            note: "The domain-shift analyses, one source → target pair per task.")),
      finalize: try script(
        "finalize.sbatch",
        body(
          "finalize", array: nil,
          command: "study merge \(Slurm.quoted(setup.directory.path))",
          note: "Imports every result file into study.sqlite and writes the report; submitted "
            + "with --dependency=afterany:<every other job>.")))
  }

  private func body(_ kind: String, array: [Int]?, command: String, note: String) -> String {
    let name = "mt-\(setup.spec.name)-\(kind)"
    let log = setup.directory.appendingPathComponent(
      "slurm/logs/\(kind)-" + (array == nil ? "%j" : "%A_%a") + ".out"
    ).path
    var resources = resources
    if array == nil || kind != "runs" { resources.maxParallel = nil }
    if array == nil { resources.cpusPerTask = 1 }
    let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    return """
      #!/bin/bash
      \(resources.directives(name: name, log: log, array: array).joined(separator: "\n"))
      # Written by `medtransfer study submit` for study \(setup.spec.name).
      # \(note)
      set -euo pipefail
      # The kernels' threads come from --cpus-per-task (SLURM_CPUS_PER_TASK); OpenBLAS's own
      # threads stay at one, as in `study run --workers`.
      export OPENBLAS_NUM_THREADS=1
      exec \(Slurm.quoted(binary)) \(command)

      """
  }
}

/// `medtransfer study task SPEC --index I`: what one Slurm array task runs.
struct StudyTaskCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "task",
    abstract: "Run one planned unit of a study (a run, a source model or a shift analysis) "
      + "into its result file.",
    discussion: """
      What the array tasks of `study submit` run; it reads STUDY_DIR/plan.json (written when \
      the study was prepared) and never opens the study's SQLite store. --index I runs the \
      plan's run I and writes STUDY_DIR/results/<hash>.json, renamed into place only when \
      complete; a run whose shared source model is missing fails with that reason. Threads: \
      --threads, else SLURM_CPUS_PER_TASK, else all cores. Exits non-zero when the run failed \
      (its file then records why).
      """)

  @Argument(help: "The study spec (YAML) the study was planned from.")
  var spec: String

  @Option(name: .long, help: "Study folder. Default: Reports/<name>.")
  var out: String?

  @Option(name: .long, help: "Cache root generated datasets were rendered into.")
  var cache: String?

  @Option(name: .long, help: "Run the plan's run at this position.")
  var index: Int?

  @Option(name: .long, help: "Train the plan's shared source model at this position.")
  var sourceModel: Int?

  @Option(name: .long, help: "Run the plan's shift analysis at this position.")
  var shift: Int?

  @Option(name: .long, help: "Threads for the network kernels.")
  var threads: Int?

  func validate() throws {
    guard [index, sourceModel, shift].compactMap({ $0 }).count == 1 else {
      throw ValidationError("pass exactly one of --index, --source-model and --shift")
    }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func run() throws {
    if let n = threads
      ?? ProcessInfo.processInfo.environment["SLURM_CPUS_PER_TASK"]
      .flatMap(Int.init), n >= 1
    {
      Parallel.workers = n
    }
    try studyErrors {
      let setup = try StudySetup(
        specPath: spec, out: out, cache: cache.map { URL(fileURLWithPath: $0) })
      let plan = try StudyPlan.read(from: setup.directory, spec: setup.spec)
      let task = StudyTask(
        executor: setup.executor, context: setup.context, progress: ProgressPrinter())
      let say = { (line: String) in FileHandle.standardError.write(Data((line + "\n").utf8)) }
      if let index {
        guard plan.runs.indices.contains(index) else {
          throw StudiesError.noSuchTask(what: "run", index: index, count: plan.runs.count)
        }
        let config = plan.runs[index]
        say("run \(index) of \(plan.runs.count): \(config.label) (\(config.hash.prefix(16)))")
        let file = try task.run(config, attempt: task.attempt(for: config))
        let resultPath = RunResultFile.url(hash: config.hash, in: setup.directory).path
        if file.status == .failed {
          throw CLIError(
            "run \(config.label) failed: \(file.error ?? "?") (recorded in \(resultPath))")
        }
        let metric = setup.spec.report.metric
        let value = file.result?.target.value(metric).map { String(format: "%.3f", $0) } ?? "—"
        say(
          "run \(config.label): target \(metric.title) \(value) in "
            + "\(ProgressPrinter.duration(file.wallSeconds)); result in \(resultPath)")
      } else if let sourceModel {
        guard plan.sourceModels.indices.contains(sourceModel) else {
          throw StudiesError.noSuchTask(
            what: "source model", index: sourceModel, count: plan.sourceModels.count)
        }
        try task.trainSourceModel(plan.sourceModels[sourceModel], plan: plan)
      } else if let shift {
        guard plan.shifts.indices.contains(shift) else {
          throw StudiesError.noSuchTask(
            what: "shift analysis", index: shift, count: plan.shifts.count)
        }
        let pair = plan.shifts[shift]
        try task.analyzeShift(pair, settings: setup.spec.shift, analyzer: setup.shiftAnalyzer)
        say("shift analysis \(pair.source.label) → \(pair.target.label): done")
      }
    }
  }
}

/// `medtransfer study merge DIR`: the result files into the store, then the report.
struct StudyMergeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge",
    abstract: "Import a study's result files into its SQLite store and write the report.",
    discussion: """
      What the finalize job of `study submit` runs; safe to run at any time and any number of \
      times: each file is imported in one transaction, a file already imported changes \
      nothing, and a file that is truncated or half-written is reported (exit status 1) and \
      never imported. Run it on one host at a time: SQLite's locking is not safe on NFS.
      """)

  @Argument(help: "The study folder (holding plan.json, results/ and study.sqlite).")
  var studyDir: String

  @Flag(name: .long, help: "Do not write the report.")
  var noReport = false

  func run() throws {
    try studyErrors {
      let directory = URL(fileURLWithPath: studyDir).standardizedFileURL
      let store = try StudyStore(directory: directory, create: false)
      let summary = try StudyMerge.merge(store: store)
      for problem in summary.problems {
        FileHandle.standardError.write(Data((problem + "\n").utf8))
      }
      let runs = try store.runs()
      let finished = runs.filter { $0.status == .finished }.count
      let failed = runs.filter { $0.status == .failed }.count
      FileHandle.standardOutput.write(
        Data(
          ("merged \(summary.imported) result file(s) (\(summary.unchanged) already in the "
            + "store), \(summary.shiftsImported) shift analysis(es); runs: \(finished) finished, "
            + "\(failed) failed, \(runs.count - finished - failed) without a result, of "
            + "\(runs.count)\n").utf8))
      if !noReport {
        let files = try ReportWriter.write(store: store, outputDirectory: directory)
        FileHandle.standardError.write(Data("report: \(files.html.path)\n".utf8))
      }
      if !summary.problems.isEmpty {
        throw CLIError(
          "\(directory.path): \(summary.problems.count) result file(s) not imported (listed "
            + "above)")
      }
    }
  }
}

/// `medtransfer study status DIR`: where a study stands, locally or on Slurm.
struct StudyStatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show a study's runs: planned, finished, failed, running, pending.",
    discussion: """
      Reads plan.json, the store and the result files not merged yet, and asks Slurm (squeue) \
      about the jobs of the last `study submit` when it can be reached. A run is finished or \
      failed when the store or its result file says so (a finished result wins), running when \
      Slurm runs its task (or a local worker holds it), pending otherwise.
      """)

  @Argument(help: "The study folder.")
  var studyDir: String

  @Flag(name: .long, help: "Print the status as JSON.")
  var json = false

  struct Status: Codable {
    struct FailedRun: Codable {
      var index: Int
      var run: String
      var error: String
    }
    struct SlurmView: Codable {
      var jobs: [String]
      var reachable: Bool
      var running: Int
      var queued: Int
    }
    var study: String
    var directory: String
    var planned = 0
    var finished = 0
    var failed = 0
    var running = 0
    var pending = 0
    /// Result files whose outcome the store does not hold yet (`study merge` imports them).
    var notMerged = 0
    var unreadableFiles: [String] = []
    var failedRuns: [FailedRun] = []
    var slurm: SlurmView?
  }

  func run() throws {
    try studyErrors {
      let directory = URL(fileURLWithPath: studyDir).standardizedFileURL
      let plan = try StudyPlan.read(from: directory)
      var status = Status(study: plan.study, directory: directory.path)
      let storeExists = FileManager.default.fileExists(
        atPath: directory.appendingPathComponent(StudyStore.fileName).path)
      let stored =
        storeExists
        ? Dictionary(
          try StudyStore(directory: directory, create: false).runs().map { ($0.hash, $0) },
          uniquingKeysWith: { a, _ in a }) : [:]
      var files: [String: RunResultFile] = [:]
      for url in RunResultFile.list(in: directory) {
        do {
          let file = try RunResultFile.read(url)
          files[file.hash] = file
        } catch {
          status.unreadableFiles.append("\(error)")
        }
      }
      var slurmStates: [Int: String] = [:]
      if let last = SlurmSubmission.all(in: directory).last {
        let states = Slurm.queue(jobs: last.jobIDs)
        var view = Status.SlurmView(
          jobs: last.jobIDs, reachable: states != nil, running: 0, queued: 0)
        for (id, state) in states ?? [:] {
          if state == "RUNNING" { view.running += 1 } else { view.queued += 1 }
          let parts = id.split(separator: "_")
          if parts.count == 2, String(parts[0]) == last.runsJob, let i = Int(parts[1]) {
            slurmStates[i] = state
          }
        }
        status.slurm = view
      }
      status.planned = plan.runs.count
      for (i, config) in plan.runs.enumerated() {
        let run = stored[config.hash]
        let file = files[config.hash]
        if file.map({ $0.status.rawValue != run?.status.rawValue }) ?? false {
          status.notMerged += 1
        }
        if run?.status == .finished || file?.status == .finished {
          status.finished += 1
        } else if slurmStates[i] == "RUNNING" || (slurmStates[i] == nil && run?.status == .running)
        {
          status.running += 1
        } else if slurmStates[i] == nil, run?.status == .failed || file?.status == .failed {
          status.failed += 1
          status.failedRuns.append(
            Status.FailedRun(
              index: i, run: config.label, error: file?.error ?? run?.error ?? "failed"))
        } else {
          status.pending += 1
        }
      }
      if json {
        FileHandle.standardOutput.write(try JSONCoding.encoder(.pretty).encode(status))
        FileHandle.standardOutput.write(Data("\n".utf8))
      } else {
        FileHandle.standardOutput.write(Data(Self.text(status).utf8))
      }
    }
  }

  static func text(_ s: Status) -> String {
    var lines = [
      "study \(s.study) (\(s.directory))",
      "  planned   \(s.planned)",
      "  finished  \(s.finished)",
      "  failed    \(s.failed)",
      "  running   \(s.running)",
      "  pending   \(s.pending)",
    ]
    if s.notMerged > 0 {
      lines.append(
        "  \(s.notMerged) result file(s) not merged yet: medtransfer study merge \(s.directory)")
    }
    for f in s.failedRuns.prefix(10) {
      lines.append("  failed: run \(f.index) \(f.run): \(f.error)")
    }
    if s.failedRuns.count > 10 { lines.append("  … and \(s.failedRuns.count - 10) more failed") }
    for line in s.unreadableFiles { lines.append("  " + line) }
    if let slurm = s.slurm {
      lines.append(
        slurm.reachable
          ? "Slurm: jobs \(slurm.jobs.joined(separator: ", ")): \(slurm.running) task(s) "
            + "running, \(slurm.queued) queued"
          : "Slurm: jobs \(slurm.jobs.joined(separator: ", ")): squeue cannot be reached here")
    }
    return lines.joined(separator: "\n") + "\n"
  }
}
