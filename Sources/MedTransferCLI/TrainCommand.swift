import Adaptation
import ArgumentParser
import Datasets
import Foundation
import Studies

#if canImport(Glibc)
  import Glibc
#endif

/// `medtransfer train`: one training run, written to a run folder.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train (or adapt) a classifier on a dataset and write a run folder.",
    discussion: """
      Writes OUT/config.json (everything needed to rerun, with weights and data hashes), \
      OUT/metrics.jsonl (one line per epoch), OUT/model.safetensors (the best checkpoint), \
      OUT/resume.json + OUT/resume/ (model, optimizer moments and best weights of the last \
      finished epoch, to resume exactly) and OUT/summary.json. Progress goes to \
      stderr; with --json the summary is printed on stdout.
      """)

  @Option(help: "Manifest CSV (path,label[,domain][,patient][,split]) or an image folder.")
  var data: String

  @Option(help: "Train on this domain only (repeatable).")
  var domain: [String] = []

  @Option(
    name: .customLong("target-domain"),
    help: "Unlabelled target domain for --adabn / --coral (its images, not its labels).")
  var targetDomain: String?

  @Option(name: .customLong("init"), help: "pretrained:efficientnet-lite0 | scratch[:NAME].")
  var initialization: String = "pretrained:efficientnet-lite0"

  @Option(
    help: ArgumentHelp(
      "The arm, in the study spec's grammar: a strategy (scratch, linear-probe, "
        + "features+logreg, partial(K), full) joined by + with adabn, l2sp(α[,β]), dropout(p), "
        + "coral(w); e.g. full+l2sp(0.1). Default: full.",
      valueName: "arm"))
  var arm: String?

  @Option(help: "Old spelling of --arm's strategy: scratch | linear-probe | partial:K | full.")
  var strategy: String?

  @Option(
    help: ArgumentHelp(
      "Weight penalty: none | l2:lambda=L | l2sp:alpha=A,beta=B[,bn=true] (--arm …+l2sp(A,B) "
        + "is the arm grammar's spelling of the last without bn)."))
  var reg: String?

  @Option(help: "Head dropout rate.")
  var dropout: Double = 0.2

  @Option(help: "Hidden units of an optional head layer (ReLU6).")
  var hidden: Int?

  @Option(help: "Optimizer: adamw (decoupled weight decay) or sgd (coupled).")
  var optimizer: String = "adamw"

  @Option(help: "Peak learning rate of the head.")
  var lr: Double = 1e-3

  @Option(name: .customLong("backbone-lr-scale"), help: "Backbone LR as a fraction of the head's.")
  var backboneLRScale: Double = 1

  @Option(help: "Optimizer weight decay.")
  var wd: Double = 1e-4

  @Option(name: .customLong("labels-per-class"), help: "Label budget per class (nested).")
  var labelsPerClass: Int?

  @Option(help: "Maximum epochs.")
  var epochs: Int = 20

  @Option(name: .customLong("batch-size"), help: "Mini-batch size.")
  var batchSize: Int = 32

  @Option(help: "Early-stopping patience in epochs (0: off).")
  var patience: Int = 5

  @Option(
    name: .customLong("bn-momentum"),
    help: "BatchNorm running-statistics momentum while training (0: keep the network's).")
  var bnMomentum: Double = 0.1

  @Option(help: "Selection metric: accuracy | balanced_accuracy | macro_f1 | auroc.")
  var metric: String = "balanced_accuracy"

  @Option(help: "Deep CORAL loss weight (needs --target-domain).")
  var coral: Double?

  @Flag(help: "Re-estimate BatchNorm statistics on the target domain first (AdaBN).")
  var adabn = false

  @Flag(name: .customLong("no-augment"), help: "Turn training augmentation off.")
  var noAugment = false

  @Option(help: "Square input size in pixels.")
  var size: Int = 128

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Input window: auto (the file's own VOI window, else a CT preset by body part, else the image's 0.5–99.5 percentiles; 8-bit pictures as they are), file[:C,W], C,W (e.g. 40,400) or pLOW,HIGH (e.g. p1,99).",
      valueName: "window"))
  var window: String = "auto"

  @Option(help: "Seed of initialisation, splits, budgets, augmentation and dropout.")
  var seed: Int = 0

  @Option(help: "Run folder to write.")
  var out: String

  @Option(
    name: .customLong("on-bad"),
    help:
      "Bad rows and undecodable images: fail (default) or skip (listed on stderr and in config.json)."
  )
  var onBad: String = "fail"

  @Flag(help: "Continue a killed run from its last checkpoint.")
  var resume = false

  @Flag(help: "Print summary.json on stdout.")
  var json = false

  func makeConfiguration() throws -> TrainingConfiguration {
    var c = TrainingConfiguration()
    do {
      c.initialization = try Initialization(parsing: initialization)
      c.strategy = try Strategy(parsing: strategy ?? "full")
      c.regularizer = try RegularizerSpec(parsing: reg ?? "none")
    } catch let error as AdaptationError {
      throw CLIError(error.description)
    }
    c.dropout = dropout
    c.coralWeight = coral
    c.adaBN = adabn
    if let arm {
      guard strategy == nil, coral == nil, !adabn, reg.map({ !$0.hasPrefix("l2sp") }) ?? true
      else {
        throw CLIError(
          "--arm \(arm): give the strategy, l2sp, adabn and coral in the arm, not also as "
            + "--strategy/--reg/--adabn/--coral")
      }
      let parsed: ArmSpec
      switch ArmSpec.parse(arm) {
      case .success(let value): parsed = value
      case .failure(let error): throw CLIError("--arm \(arm): \(error.reason)")
      }
      if parsed.isBaseline || parsed.strategy == .untrained {
        throw CLIError(
          "--arm \(arm): train runs one network; baselines and adabn alone run in a study")
      }
      parsed.apply(to: &c)
      c.adaBN = parsed.adaBN
    } else if let strategy, strategy.contains(":") {
      log(
        "note: --strategy \(strategy) is the old spelling; write --arm "
          + "\(c.strategy) (the study spec's arm grammar)")
    }
    if c.strategy == .scratch { c.initialization = .scratch(c.initialization.architecture) }
    guard let opt = OptimizerKind(rawValue: optimizer) else {
      throw CLIError("--optimizer \(optimizer): unknown; use adamw or sgd")
    }
    guard let selection = SelectionMetric(name: metric) else {
      throw CLIError("--metric \(metric): unknown; use \(SelectionMetric.names)")
    }
    guard dropout >= 0 && dropout < 1 else {
      throw CLIError("--dropout \(dropout): must be in [0, 1)")
    }
    guard epochs >= 1, batchSize >= 2, size >= 16 else {
      throw CLIError("--epochs ≥ 1, --batch-size ≥ 2 and --size ≥ 16 are required")
    }
    if c.coralWeight != nil && targetDomain == nil || c.adaBN && targetDomain == nil {
      throw CLIError("--coral/--adabn need --target-domain NAME (the unlabelled target images)")
    }
    c.optimizer = opt
    c.selectionMetric = selection
    c.hiddenUnits = hidden
    c.learningRate = lr
    c.backboneLearningRateScale = backboneLRScale
    c.weightDecay = wd
    c.labelsPerClass = labelsPerClass
    c.epochs = epochs
    c.batchSize = batchSize
    c.patience = patience > 0 ? patience : nil
    c.batchNormMomentum = bnMomentum > 0 ? bnMomentum : nil
    c.augment = !noAugment
    c.inputSize = size
    c.seed = seed
    return c
  }

  func run() throws {
    let configuration = try makeConfiguration()
    let request = DataRequest(
      source: data, domains: domain, targetDomain: targetDomain, inputSize: size,
      labelsPerClass: labelsPerClass, seed: seed, onBad: try parseOnBad(onBad),
      window: try parseWindowOption(window))
    let directory: RunDirectory
    do { directory = try RunDirectory(URL(fileURLWithPath: out)) } catch {
      throw CLIError("\(error)")
    }
    let prepared: PreparedData
    do {
      log("loading \(data) …")
      prepared = try DataPreparation.prepare(request, channels: 3)
    } catch let error as CustomStringConvertible {
      throw CLIError(error.description)
    }
    printDataNotes(prepared.notes, source: data)
    let factory = ModelFactories.standard(
      storingFeaturesIn: FeatureStore(directory: FeatureStore.defaultRoot))
    let record = RunConfigRecord(
      configuration: configuration, data: prepared.provenance,
      weights: try? ModelFactories.weightsProvenance(configuration.initialization),
      command: CommandLine.arguments.joined(separator: " "), version: MedTransferVersion.string)
    if resume, FileManager.default.fileExists(atPath: directory.configURL.path) {
      let old = try RunDirectory.readJSON(RunConfigRecord.self, from: directory.configURL)
      guard old.configuration == configuration else {
        throw CLIError(
          "\(out): holds a run with a different configuration; drop --resume or use a new --out")
      }
      guard old.data.preprocessingSHA256 == record.data.preprocessingSHA256 else {
        throw CLIError(
          "\(out): holds a run with different preprocessing (window "
            + "\(old.data.window ?? "-600,1500")); drop --resume or use a new --out")
      }
    }
    try RunDirectory.writeJSON(record, to: directory.configURL)
    let bar = ProgressBar()
    let summary: RunSummary
    do {
      summary = try SinglePhaseProtocol.run(
        configuration: configuration, data: prepared.data, factory: factory,
        directory: directory, resume: resume, progress: { bar.update($0, metric: metric) },
        augmentation: prepared.augmentation
      ).summary
    } catch let error as CustomStringConvertible {
      bar.finish()
      throw CLIError(error.description)
    }
    bar.finish()
    if json {
      print(String(decoding: try RunDirectory.prettyJSON(summary), as: UTF8.self))
    }
    let test =
      summary.test.map {
        String(
          format: " test accuracy %.3f balanced %.3f", $0.overall.accuracy.value,
          $0.overall.balancedAccuracy)
      } ?? ""
    log(
      "\(summary.status.rawValue): \(summary.epochsRun) epochs, best epoch \(summary.bestEpoch),"
        + String(format: " %.1f img/s", summary.imagesPerSecond) + test + " → \(out)")
    if let error = summary.error {
      throw CLIError("\(out): \(error)")
    }
  }
}

/// Parses a `--window` value into a one-line CLI error when it is not one.
func parseWindowOption(_ text: String) throws -> Preprocessing.Window {
  do { return try Preprocessing.parseWindow(text, input: "--window") } catch {
    throw CLIError("\(error)")
  }
}

/// Writes a line to stderr.
func log(_ message: String) {
  FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// A one-line progress bar on stderr (redrawn in place on a terminal, one line per epoch
/// otherwise).
final class ProgressBar {
  private let interactive = isatty(2) == 1
  private var lastEpoch = 0
  private var lastLine = ""
  private var lastDraw = Date.distantPast

  func update(_ p: TrainingProgress, metric: String) {
    let width = 24
    let filled = p.steps > 0 ? width * p.step / p.steps : 0
    let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
    let val = p.validationValue.map { String(format: " val %@ %.3f", metric, $0) } ?? ""
    let line = String(
      format: "epoch %d/%d %@ loss %.4f%@ %.1f img/s", p.epoch, p.epochs, bar,
      p.loss, val, p.imagesPerSecond)
    if interactive {
      if Date().timeIntervalSince(lastDraw) > 0.1 || p.step == p.steps {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        lastDraw = Date()
      }
    } else if p.epoch != lastEpoch && lastEpoch != 0 {
      FileHandle.standardError.write(Data((lastLine + "\n").utf8))
    }
    lastEpoch = p.epoch
    lastLine = line
  }

  func finish() {
    if interactive {
      if !lastLine.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
    } else if !lastLine.isEmpty {
      FileHandle.standardError.write(Data((lastLine + "\n").utf8))
    }
    lastLine = ""
  }
}
