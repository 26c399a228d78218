import Adaptation
import ArgumentParser
import Datasets
import Foundation
import Metrics

/// `medtransfer evaluate`: a run folder's best checkpoint on a dataset.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate",
    abstract: "Evaluate a trained run on a dataset (accuracy, balanced accuracy, macro-F1, "
      + "AUROC with 95% CIs, ECE, confusion matrix, per-domain and per-subgroup).")

  @Option(help: "Run folder written by `medtransfer train`.")
  var checkpoint: String

  @Option(help: "Manifest CSV or image folder to evaluate on (every image; or --split).")
  var data: String

  @Option(help: "Evaluate only this domain (repeatable).")
  var domain: [String] = []

  @Option(help: "Only rows of this split (e.g. test); default: every image.")
  var split: String?

  @Option(
    name: .customLong("on-bad"),
    help: "Bad rows and undecodable images: fail (default) or skip (listed on stderr).")
  var onBad: String = "fail"

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Input window (auto, file[:C,W], C,W or pLOW,HIGH); default: the one the run was trained with.",
      valueName: "window"))
  var window: String?

  @Flag(help: "Print the report as one JSON document on stdout.")
  var json = false

  /// The preprocessing the run recorded (runs recorded before windows were selectable used
  /// the fixed lung window and no MONOCHROME1 inversion), with `--window` in place of its window.
  func runPreprocessing(_ record: RunConfigRecord) throws -> Preprocessing {
    guard var recorded = Preprocessing.recorded(record.data.preprocessing) else {
      throw CLIError(
        "\(checkpoint)/config.json: its preprocessing record cannot be read; retrain the run")
    }
    if let window { recorded.window = try parseWindowOption(window) }
    return recorded
  }

  func run() throws {
    let model: TransferModel
    let record: RunConfigRecord
    let report: EvaluationReport
    do {
      let policy = try parseOnBad(onBad)
      (model, record) = try RunDirectory(URL(fileURLWithPath: checkpoint)).loadBestModel()
      let (set, notes) = try DataPreparation.evaluationSet(
        source: data, domains: domain, split: split, inputSize: record.configuration.inputSize,
        classes: record.data.classes, channels: 3,
        // The run's own seed: `train` split the manifest with it, so `--split test` here is
        // the run's test split (seed 0 for every run used to give other runs' test rows).
        seed: record.configuration.seed, onBad: policy,
        preprocessing: try runPreprocessing(record))
      // Patients matter only when a split is drawn.
      printDataNotes(
        skipped: notes.skipped, patientWarning: split == nil ? nil : notes.patientWarning,
        source: data)
      report = SinglePhaseProtocol.evaluate(model, on: set, seed: UInt64(record.configuration.seed))
    } catch let error as CustomStringConvertible {
      throw CLIError(error.description)
    }
    if json {
      print(String(decoding: try RunDirectory.prettyJSON(report), as: UTF8.self))
    } else {
      let o = report.overall
      let accuracy = o.accuracy.interval ?? Self.noInterval
      print(
        String(
          format: "images %d  accuracy %.3f [%.3f, %.3f]  balanced %.3f  macro-F1 %.3f",
          o.count, o.accuracy.value, accuracy.lower, accuracy.upper, o.balancedAccuracy,
          o.macroF1))
      if let auc = o.macroAUROC {
        let interval = auc.interval ?? Self.noInterval
        print(
          String(
            format: "macro AUROC %.3f [%.3f, %.3f]  ECE %.3f", auc.value, interval.lower,
            interval.upper, o.ece))
      }
      for (name, r) in report.perDomain.sorted(by: { $0.key < $1.key }) {
        print(
          String(
            format: "  domain %@: n %d accuracy %.3f balanced %.3f", name, r.count,
            r.accuracy.value, r.balancedAccuracy))
      }
      for (name, r) in report.perSubgroup.sorted(by: { $0.key < $1.key }) {
        print(
          String(
            format: "  %@: n %d accuracy %.3f balanced %.3f", name, r.count,
            r.accuracy.value, r.balancedAccuracy))
      }
    }
  }

  /// Printed as "[nan, nan]" where an interval could not be computed.
  static let noInterval = ConfidenceInterval(lower: .nan, upper: .nan, level: 0.95, method: "none")
}
