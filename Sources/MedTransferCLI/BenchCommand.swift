import ArgumentParser

/// `medtransfer bench …`: throughput measurements (never asserted in tests).
/// (Minimal group on the backbones branch; the ScanIO branch adds its own subcommands.)
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure the speed of the pipeline's stages on this machine.",
    subcommands: BenchModelCommand.subcommands)
}
