import Foundation
import Interchange
import Studies

/// Writes a study's report — `index.html`, `report.json` and `csv/*.csv` — from its store alone.
public enum ReportWriter {
  /// The files written.
  public struct Files: Sendable {
    public var html: URL
    public var json: URL
    public var csv: [URL]
  }

  /// Reads `study.sqlite` in `studyDirectory` and writes the report into `outputDirectory`
  /// (default: the study folder itself).
  @discardableResult
  public static func write(studyDirectory: URL, outputDirectory: URL? = nil) throws -> Files {
    let store = try StudyStore(directory: studyDirectory, create: false)
    return try write(store: store, outputDirectory: outputDirectory ?? studyDirectory)
  }

  /// Writes the report of an open store into `outputDirectory`.
  @discardableResult
  public static func write(store: StudyStore, outputDirectory: URL) throws -> Files {
    let report = try StudyReport.build(from: store)
    var page = HTMLReport(report: report)
    let html = page.render()
    let csvDir = outputDirectory.appendingPathComponent("csv")
    let htmlURL = outputDirectory.appendingPathComponent("index.html")
    let jsonURL = outputDirectory.appendingPathComponent("report.json")
    var csvURLs: [URL] = []
    do {
      try FileManager.default.createDirectory(at: csvDir, withIntermediateDirectories: true)
      try Data(html.utf8).write(to: htmlURL, options: .atomic)
      try JSONCoding.encoder(.pretty).encode(report).write(to: jsonURL, options: .atomic)
      for (name, text) in csvTables(report) {
        let url = csvDir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url, options: .atomic)
        csvURLs.append(url)
      }
    } catch {
      throw ReportsError.write(path: outputDirectory.path, cause: "\(error)")
    }
    return Files(html: htmlURL, json: jsonURL, csv: csvURLs)
  }

  /// The CSV tables: file name → contents.
  static func csvTables(_ r: StudyReport) -> [(String, String)] {
    func n(_ v: Double?) -> String { v.map { $0.isFinite ? "\($0)" : "" } ?? "" }
    func row(_ fields: [String]) -> String {
      fields.map { f in
        f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
          ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
      }.joined(separator: ",")
    }
    var runs = [
      row([
        "hash", "arm", "source", "target", "budget", "seed", "status", "attempts",
        "target_accuracy", "target_balanced_accuracy", "target_macro_f1", "target_auroc",
        "target_auroc_lower", "target_auroc_upper", "target_ece", "source_accuracy",
        "source_balanced_accuracy", "forgetting", "train_images", "wall_seconds",
        "images_per_second", "error",
      ])
    ]
    for run in r.runs {
      let res = run.result
      runs.append(
        row([
          run.hash, run.arm, run.source, run.target, run.budget, String(run.seed), run.status,
          String(run.attempts), n(res?.target.accuracy), n(res?.target.balancedAccuracy),
          n(res?.target.macroF1), n(res?.target.auroc?.value), n(res?.target.auroc?.lower),
          n(res?.target.auroc?.upper), n(res?.target.ece), n(res?.source?.accuracy),
          n(res?.source?.balancedAccuracy), n(res?.forgetting?.forgetting),
          res.map { String($0.trainImages) } ?? "", n(res?.wallSeconds), n(res?.imagesPerSecond),
          run.error ?? "",
        ]))
    }
    var headline = [
      row([
        "target", "arm", "budget", "transfer_mean", "scratch_mean", "difference",
        "ci_lower", "ci_upper", "p_value", "pairs",
      ])
    ]
    for h in r.headline {
      headline.append(
        row([
          h.target, h.arm, h.budget, n(h.transfer?.mean), n(h.scratch?.mean),
          n(h.difference?.difference), n(h.difference?.lower), n(h.difference?.upper),
          n(h.difference?.pValue), h.difference.map { String($0.n) } ?? "0",
        ]))
    }
    var curves = [
      row(["target", "arm", "budget", "labels_per_class", "mean", "ci_lower", "ci_upper", "seeds"])
    ]
    for c in r.learningCurves {
      for p in c.points {
        curves.append(
          row([
            c.target, c.arm, p.budget, n(p.labelsPerClass), n(p.value.mean), n(p.value.lower),
            n(p.value.upper), String(p.value.n),
          ]))
      }
    }
    var epochs = [
      row([
        "hash", "arm", "target", "budget", "seed", "epoch", "wall_seconds", "train_loss",
        "val_metric", "val_loss", "images_per_second",
      ])
    ]
    for run in r.runs {
      for e in run.result?.epochs ?? [] {
        epochs.append(
          row([
            run.hash, run.arm, run.target, run.budget, String(run.seed), String(e.epoch),
            n(e.wallSeconds), n(e.trainLoss), n(e.valMetric), n(e.valLoss), n(e.imagesPerSecond),
          ]))
      }
    }
    var forgetting = [
      row([
        "target", "arm", "budget", "l2sp_alpha", "source_before", "source_after",
        "forgetting", "forgetting_lower", "forgetting_upper", "target_before",
        "target_after", "target_gain", "source_before_own_bn_statistics",
        "source_after_own_bn_statistics",
        "forgetting_own_bn_statistics", "forgetting_own_bn_statistics_lower",
        "forgetting_own_bn_statistics_upper",
      ])
    ]
    for f in r.forgetting {
      forgetting.append(
        row([
          f.target, f.arm, f.budget, n(f.l2spAlpha), n(f.sourceBefore?.mean),
          n(f.sourceAfter?.mean),
          n(f.forgetting?.mean), n(f.forgetting?.lower), n(f.forgetting?.upper),
          n(f.targetBefore?.mean), n(f.targetAfter?.mean), n(f.targetGain?.mean),
          n(f.sourceBeforeOwnStatistics?.mean), n(f.sourceAfterOwnStatistics?.mean),
          n(f.forgettingOwnStatistics?.mean),
          n(f.forgettingOwnStatistics?.lower), n(f.forgettingOwnStatistics?.upper),
        ]))
    }
    var shift = [
      row(["source", "target", "statistic", "value", "ci_lower", "ci_upper", "p_value", "note"])
    ]
    for s in r.shift {
      for m in s.metrics {
        shift.append(
          row([
            s.source, s.target, m.name, n(m.value), n(m.lower), n(m.upper), n(m.pValue),
            m.note ?? "",
          ]))
      }
    }
    return [
      ("runs.csv", runs.joined(separator: "\n") + "\n"),
      ("headline.csv", headline.joined(separator: "\n") + "\n"),
      ("learning_curves.csv", curves.joined(separator: "\n") + "\n"),
      ("epochs.csv", epochs.joined(separator: "\n") + "\n"),
      ("forgetting.csv", forgetting.joined(separator: "\n") + "\n"),
      ("shift.csv", shift.joined(separator: "\n") + "\n"),
    ]
  }
}
