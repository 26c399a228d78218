import ArgumentParser

/// The `medtransfer` command: argument parsing and printing only; the work lives in the modules.
@main
struct MedTransfer: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "medtransfer",
    abstract: "Transfer learning and domain-shift analysis for medical scans.",
    discussion: """
      Load DICOM scans, adapt an ImageNet-pretrained CNN with regularized fine-tuning, \
      measure the domain shift between sites, and report whether transfer beats training \
      from scratch. See README.md.
      """,
    version: MedTransferVersion.string,
    subcommands: [
      DicomCommand.self, BackboneCommand.self, DatasetCommand.self, TrainCommand.self,
      EvaluateCommand.self, StudyCommand.self, ReportCommand.self, BenchCommand.self,
      ShiftCommand.self,
    ])
}

/// The version printed by `medtransfer --version`.
enum MedTransferVersion {
  static let string = "0.1.0"
}
