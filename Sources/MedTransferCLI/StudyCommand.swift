import ArgumentParser
import Foundation
import Interchange
import Neural
import Reports
import Studies

/// `medtransfer study …`: run study specs.
struct StudyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "study",
    abstract: "Run a study spec (arms × label budgets × seeds) into a results database and report.",
    subcommands: [
      StudyRunCommand.self, StudySubmitCommand.self, StudyTaskCommand.self,
      StudyMergeCommand.self, StudyStatusCommand.self,
    ])
}

/// What every `study` subcommand builds from a spec: the study folder, the context its paths
/// resolve in, the executors (baselines first, every network arm through Adaptation) and the
/// shift analyzer.
struct StudySetup {
  let spec: StudySpec
  let directory: URL
  let context: StudyContext
  let executor: RoutingExecutor

  /// `out` overrides the spec's `report.output` (default `Reports/<name>`); `cache` the cache
  /// root generated datasets go to (default Interchange's `cacheRoot()`).
  init(specPath: String, out: String?, cache: URL? = nil) throws {
    spec = try StudySpec.load(file: specPath)
    let folder = out ?? spec.report.output ?? "Reports/\(spec.name)"
    directory = URL(fileURLWithPath: folder).standardizedFileURL
    let specDirectory = URL(fileURLWithPath: specPath).deletingLastPathComponent()
      .standardizedFileURL
    context = StudyContext(
      studyDirectory: directory, specDirectory: specDirectory,
      cacheDirectory: cache ?? cacheRoot())
    // Arms no executor can run are rejected before anything runs.
    executor = RoutingExecutor([
      BaselineExecutor(onBad: spec.badRowPolicy),
      AdaptationExecutor(onBad: spec.badRowPolicy),
    ])
    try StudyRunner.checkArms(spec, executor: executor)
  }

  var shiftAnalyzer: FeatureShiftAnalyzer {
    FeatureShiftAnalyzer(
      backbone: spec.backbone, inputSize: spec.inputSize, options: spec.training.options,
      onBad: spec.badRowPolicy, window: spec.window)
  }

  func runner(store: StudyStore) -> StudyRunner {
    StudyRunner(
      spec: spec, store: store, context: context, executor: executor,
      shiftAnalyzer: shiftAnalyzer)
  }
}

/// Runs `body`, turning the Studies and Reports errors into one-line CLI errors.
func studyErrors<T>(_ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let error as StudiesError {
    throw CLIError(error.description)
  } catch let error as ReportsError {
    throw CLIError(error.description)
  }
}

/// `medtransfer study run SPEC`: expands the spec, runs what is not finished, writes the report.
struct StudyRunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run (or resume) a study and write its report.",
    discussion: """
      Expands arms × targets × label budgets × seeds into runs keyed by the SHA-256 of their \
      full config, skips runs already finished in STUDY_DIR/study.sqlite, runs the rest \
      (each result committed in one transaction), and writes index.html, report.json and csv/ \
      into the study folder. Killed at any moment, the same command resumes: finished runs are \
      kept, the interrupted run is redone. The study folder defaults to Reports/<name> under \
      the current directory (spec key report.output, or --out).
      """)

  @Argument(help: "The study spec (YAML), e.g. studies/quickstart.yaml.")
  var spec: String

  @Option(
    name: .long, help: "Study folder (database, checkpoints, report). Default: Reports/<name>.")
  var out: String?

  @Flag(name: .long, help: "Also redo runs that failed in an earlier invocation.")
  var retryFailed = false

  @Flag(name: .long, help: "Do not write the report at the end.")
  var noReport = false

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Run the study in N worker processes, one core each (results are identical to one "
        + "process; on 2 cores 2 workers finish about 1.6× sooner).", valueName: "N"))
  var workers: Int = 1

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Run as worker K of N: start with the runs at positions ≡ K−1 mod N, then take unclaimed "
        + "runs of the others (each run is claimed in the store first); shard 1 also runs the "
        + "shift analyses. Used by --workers.",
      valueName: "K/N"))
  var shard: String?

  @Option(name: .long, help: "Threads for the network kernels (default: all cores).")
  var threads: Int?

  func validate() throws {
    guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
    if let shard, StudyRunner.Shard(parsing: shard) == nil {
      throw ValidationError("--shard \(shard): expected K/N with 1 ≤ K ≤ N, e.g. 1/2")
    }
    if shard != nil && workers > 1 {
      throw ValidationError("--shard and --workers exclude each other; --workers starts the shards")
    }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
  }

  func run() throws {
    if let threads { Parallel.workers = threads }
    try studyErrors {
      let setup = try StudySetup(specPath: self.spec, out: out)
      let studyDirectory = setup.directory
      let store = try StudyStore(directory: studyDirectory)
      let runner = setup.runner(store: store)
      try store.saveEnvironment(["medtransfer.version": MedTransferVersion.string])
      let command = (["medtransfer"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
      let failed: Int
      if workers > 1 {
        // Generate data and check weights once here, so the workers do not race to do it.
        try runner.prepare(command: command)
        try store.resetInterrupted()
        failed = try WorkerPool.run(
          count: workers, spec: self.spec, out: studyDirectory.path, retryFailed: retryFailed)
      } else {
        failed = try runner.run(
          retryFailed: retryFailed, command: command,
          shard: shard.flatMap(StudyRunner.Shard.init(parsing:))
        ).failed
      }
      if !noReport {
        let files = try ReportWriter.write(store: store, outputDirectory: studyDirectory)
        FileHandle.standardError.write(Data("report: \(files.html.path)\n".utf8))
      }
      if failed > 0 {
        throw CLIError(
          "\(self.spec): \(failed) run(s) failed (listed in the report under "
            + "Reproducibility); fix the cause and rerun with --retry-failed.")
      }
    }
  }
}

/// `medtransfer report STUDY_DIR`: regenerates the report from the database alone.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Regenerate a study's report (index.html, report.json, csv/) from its database.")

  @Argument(help: "The study folder holding study.sqlite (e.g. Reports/quickstart).")
  var studyDir: String

  @Option(name: .long, help: "Write the report here instead of into the study folder.")
  var out: String?

  @Flag(name: .long, help: "Print report.json on stdout.")
  var json = false

  func run() throws {
    do {
      let files = try ReportWriter.write(
        studyDirectory: URL(fileURLWithPath: studyDir),
        outputDirectory: out.map { URL(fileURLWithPath: $0) })
      if json {
        FileHandle.standardOutput.write(try Data(contentsOf: files.json))
      }
      FileHandle.standardError.write(Data("report: \(files.html.path)\n".utf8))
    } catch let error as StudiesError {
      throw CLIError(error.description)
    } catch let error as ReportsError {
      throw CLIError(error.description)
    }
  }
}
