import ArgumentParser
import Foundation
import LinearAlgebra

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

  /// Pins OpenBLAS's kernels (see `ReproducibleKernels`), then parses and runs the command.
  static func main() {
    ReproducibleKernels.pin()
    main(nil)
  }
}

/// The version printed by `medtransfer --version`, with the OpenBLAS kernels in use (results
/// are the same bits only on the same kernels; see `ReproducibleKernels`).
enum MedTransferVersion {
  static let number = "0.1.0"
  static var string: String { "\(number) (OpenBLAS kernels: \(BLAS.coreName))" }
}

/// Same seed, same bits on every x86-64 machine with AVX2: OpenBLAS chooses its kernels when it
/// loads (before `main`), by CPU, so the executable pins them through `OPENBLAS_CORETYPE` and
/// re-executes itself once. A user who sets `OPENBLAS_CORETYPE` keeps their choice; a CPU
/// without AVX2/FMA keeps OpenBLAS's (the study's environment records which).
enum ReproducibleKernels {
  static func pin() {
    guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
      BLAS.canRunPinnedCoreType
    else { return }
    setenv("OPENBLAS_CORETYPE", BLAS.pinnedCoreType, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // Only reached when exec failed: run unpinned rather than not at all, and say so.
    FileHandle.standardError.write(
      Data(
        ("medtransfer: warning: could not re-execute with OPENBLAS_CORETYPE="
          + "\(BLAS.pinnedCoreType) (errno \(errno)); results may differ from other CPUs'\n").utf8))
  }
}
