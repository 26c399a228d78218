import ArgumentParser
import Datasets
import Foundation
import Interchange

/// Options shared by commands that load a dataset.
struct DatasetSourceOptions: ParsableArguments {
  @Option(
    name: .customLong("domain-by"),
    help:
      "Header attributes defining domains, comma-separated (e.g. Manufacturer,ManufacturerModelName)."
  )
  var domainBy: String?

  @Option(name: .customLong("on-bad"), help: "What to do with bad rows: fail (default) or skip.")
  var onBad: String = "fail"

  @Option(name: .long, help: "Allowed labels, comma-separated (other labels are bad rows).")
  var labels: String?

  @Option(
    name: .customLong("labels-csv"),
    help: "For a DICOM tree: CSV '<attribute>,label' keyed by SOPInstanceUID or another attribute.")
  var labelsCSV: String?

  func loadOptions() throws -> DatasetLoadOptions {
    DatasetLoadOptions(
      onBad: try parseOnBad(onBad),
      domainBy: domainBy.map {
        $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      } ?? [],
      labels: labels.map {
        $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      },
      validateImages: false, labelsCSV: labelsCSV)
  }
}

struct DatasetSummaryCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "summary",
    abstract:
      "Counts per label × domain × split, sizes, spacing, intensity and header values per domain.",
    discussion: """
      DATASET is a manifest CSV (path,label[,domain][,patient][,split]), a folder holding \
      manifest.csv, an ImageFolder tree (<label>/*.dcm|png|jpg), or a DICOM tree with --labels-csv.
      """)

  @Argument(help: "The dataset: manifest CSV or folder.")
  var dataset: String

  @OptionGroup var source: DatasetSourceOptions

  @Option(
    name: .long,
    help: "A splits.json to count splits from (instead of the manifest's split column).")
  var splits: String?

  @Flag(name: .long, help: "Print JSON on stdout.")
  var json = false

  func run() throws {
    do {
      let loaded = try DatasetLoader.load(dataset, options: try source.loadOptions())
      // Skipped rows are part of the summary itself (stdout); the warning goes to stderr.
      printDataNotes(skipped: [], patientWarning: loaded.patientWarning, source: dataset)
      let assignment = try splits.map { try SplitAssignment.load(from: $0) }
      let summary = DatasetSummary.make(dataset: loaded, splits: assignment)
      if json {
        let encoder = JSONCoding.encoder(.pretty)
        print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        return
      }
      print(
        "\(summary.source): \(summary.images) images, \(summary.labels.count) labels, \(summary.domains.count) domains"
      )
      let p = summary.patientSources
      let sources = [
        ("patient column", p.column), ("PatientID", p.patientID),
        ("StudyInstanceUID where PatientID is empty", p.studyInstanceUID),
        ("unknown, split by image", p.unknown),
      ]
      .filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
      print("patients: \(summary.patients) (images by patient source: \(sources))")
      print("\nlabel × domain × split: images (patients)")
      for c in summary.counts {
        print(
          "  \(c.label.padding(toLength: 20, withPad: " ", startingAt: 0)) \(c.domain.padding(toLength: 28, withPad: " ", startingAt: 0)) \(c.split.padding(toLength: 8, withPad: " ", startingAt: 0)) \(c.images) (\(c.patients))"
        )
      }
      for d in summary.perDomain {
        print("\n[\(d.domain)] \(d.images) images, \(d.patients) patients")
        print(
          "  sizes: "
            + d.sizes.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(
              separator: ", "))
        if let s = d.pixelSpacingMM {
          print(
            String(format: "  pixel spacing (mm): %.3f … %.3f (mean %.3f)", s.min, s.max, s.mean))
        }
        let i = d.intensity
        print(
          String(
            format: "  intensity: mean %.1f, std %.1f, p1 %.0f, p50 %.0f, p99 %.0f", i.mean, i.std,
            i.percentiles["p1"] ?? 0, i.percentiles["p50"] ?? 0, i.percentiles["p99"] ?? 0))
        print(
          String(
            format: "  noise (Immerkær): mean %.1f (%.1f … %.1f)", d.noiseStd.mean, d.noiseStd.min,
            d.noiseStd.max))
        for (k, m) in d.headers.sorted(by: { $0.key < $1.key }) {
          print(
            "  \(k): "
              + m.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(
                separator: ", "))
        }
      }
      if !summary.skipped.isEmpty {
        print("\nskipped rows (\(summary.skipped.count)):")
        for r in summary.skipped { print("  \(r)") }
      }
    } catch let error as DatasetsError {
      throw CLIError(error.description)
    }
  }
}
