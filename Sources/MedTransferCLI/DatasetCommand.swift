import Adaptation
import ArgumentParser
import Datasets
import Foundation
import Interchange

/// `medtransfer dataset …`: generate the phantom benchmark, summarise datasets.
struct DatasetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dataset",
    abstract: "Generate the multi-site phantom benchmark or summarise a dataset.",
    subcommands: [DatasetGenerate.self, DatasetSummaryCommand.self, DatasetSplitCommand.self])
}

/// Writes the standard-error line without touching stdout (which may carry JSON).
func printErr(_ text: String) {
  FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Lists skipped rows (with their row numbers) and the patients-unknown warning on stderr.
func printDataNotes(skipped: [BadRow], patientWarning: String?, source: String) {
  if !skipped.isEmpty {
    printErr("\(source): skipped \(skipped.count) bad row(s) (--on-bad skip):")
    for row in skipped { printErr("  \(row)") }
  }
  if let patientWarning { printErr("warning: " + patientWarning) }
}

/// `printDataNotes` for what a training or evaluation data preparation left out.
func printDataNotes(_ notes: DataNotes, source: String) {
  printDataNotes(skipped: notes.skipped, patientWarning: notes.patientWarning, source: source)
}

/// Parses an `--on-bad` value.
func parseOnBad(_ text: String) throws -> OnBad {
  guard let policy = OnBad(rawValue: text) else {
    throw CLIError("--on-bad '\(text)': must be fail or skip")
  }
  return policy
}

struct DatasetGenerate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "Generate DICOM files and manifest.csv from a phantom spec (YAML).",
    discussion: """
      Same spec and seed give byte-identical pixel data. Default size: the spec's perClass \
      images of each site's rarest class at the spec's imageSize.
      """)

  @Argument(help: "The phantom spec, e.g. datasets/chest-ct-sites.yaml.")
  var spec: String

  @Option(name: .long, help: "Output folder (created if missing).")
  var out: String

  @Option(name: .long, help: "Random seed (default: the spec's seed).")
  var seed: UInt64?

  @Option(name: .customLong("per-class"), help: "Images of each site's rarest class.")
  var perClass: Int?

  @Option(name: .long, help: "Image size in pixels (square).")
  var size: Int?

  @Option(name: .long, help: "Also write N preview PNGs per site and class under previews/.")
  var previews: Int = 0

  @Flag(name: .long, help: "Print the result as JSON on stdout.")
  var json = false

  func run() throws {
    do {
      let text: String
      do {
        text = try String(contentsOfFile: spec, encoding: .utf8)
      } catch {
        throw CLIError(
          "\(spec): cannot read the spec (\(error.localizedDescription)); check the path")
      }
      let parsed = try PhantomSpec.parse(yaml: text, path: spec)
      var lastShown = -1
      let result = try PhantomGenerator.generate(
        spec: parsed, specText: text, outDirectory: out, seed: seed, perClass: perClass,
        size: size, previews: previews
      ) { done, total in
        let tenth = done * 10 / max(total, 1)
        if tenth != lastShown {
          lastShown = tenth
          printErr("generate: \(done)/\(total) images")
        }
      }
      if json {
        let encoder = JSONCoding.encoder(.pretty)
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
      } else {
        print(
          "wrote \(result.images) images of \(result.patients) patients to \(out) in "
            + String(format: "%.1f", result.seconds) + " s; manifest: \(out)/manifest.csv")
      }
    } catch let error as DatasetsError {
      throw CLIError(error.description)
    } catch let error as CLIError {
      throw error
    } catch {
      throw CLIError("\(spec): \(error)")
    }
  }
}
