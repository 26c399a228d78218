import ArgumentParser
import Datasets
import Foundation

struct DatasetSplitCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "split",
    abstract: "Draw patient-grouped, label-stratified splits and save them as JSON.",
    discussion: "Rows with a split column keep it; their patients are pinned to that split.")

  @Argument(help: "The dataset: manifest CSV or folder.")
  var dataset: String

  @OptionGroup var source: DatasetSourceOptions

  @Option(name: .long, help: "Split fractions, e.g. train=0.7,val=0.15,test=0.15.")
  var fractions: String = "train=0.7,val=0.15,test=0.15"

  @Option(name: .long, help: "Random seed.")
  var seed: UInt64 = 0

  @Option(name: .long, help: "Where to write the splits JSON.")
  var out: String

  func run() throws {
    do {
      let loaded = try DatasetLoader.load(dataset, options: try source.loadOptions())
      printDataNotes(
        skipped: loaded.skipped, patientWarning: loaded.patientWarning, source: dataset)
      let assignment = try Splitter.split(
        loaded, fractions: try Splitter.parseFractions(fractions), seed: seed)
      try assignment.save(to: out)
      var counts: [String: Int] = [:]
      for (_, s) in assignment.splitOf { counts[s, default: 0] += 1 }
      printErr(
        "split \(loaded.entries.count) images of \(loaded.patientCount) patients: "
          + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
            separator: ", ")
          + "; wrote \(out)")
    } catch let error as DatasetsError {
      throw CLIError(error.description)
    }
  }
}
