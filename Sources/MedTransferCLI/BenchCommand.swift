import ArgumentParser

/// `medtransfer bench …`: throughput measurements (never asserted in tests).
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure the speed of the pipeline's stages on this machine.",
    subcommands: [BenchDicomCommand.self] + BenchModelCommand.subcommands + [
      BenchKernelsCommand.self, BenchShiftCommand.self,
    ])
}
