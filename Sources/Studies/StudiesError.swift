import Foundation

/// Everything that can go wrong in the Studies module; each case names the input, the reason and,
/// where known, the fix, so the CLI can print it as one line.
public enum StudiesError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The spec file could not be read.
  case unreadableSpec(file: String, cause: String)
  /// The spec is not valid YAML.
  case yamlSyntax(file: String, line: Int?, cause: String)
  /// A key of the spec has a bad value (or is unknown / missing).
  case invalidSpec(file: String, line: Int?, key: String, reason: String, fix: String)
  /// An arm is valid but no executor in this build can run it.
  case unsupportedArm(file: String, arm: String, reason: String)
  /// The results store could not be opened or written.
  case store(path: String, operation: String, cause: String)
  /// The study folder has no results store.
  case noStudy(directory: String)
  /// The baseline executor could not read a manifest.
  case manifest(path: String, row: Int?, reason: String)
  /// A run failed inside an executor (recorded in the store; the study goes on).
  case runFailed(run: String, reason: String)

  public var description: String {
    switch self {
    case .unreadableSpec(let file, let cause):
      return "\(file): cannot read the study spec (\(cause)); check the path."
    case .yamlSyntax(let file, let line, let cause):
      return
        "\(file)\(line.map { ":\($0)" } ?? ""): not valid YAML (\(cause)); fix the syntax there."
    case .invalidSpec(let file, let line, let key, let reason, let fix):
      return "\(file)\(line.map { ":\($0)" } ?? ""): key '\(key)': \(reason); \(fix)."
    case .unsupportedArm(let file, let arm, let reason):
      return "\(file): arm '\(arm)' cannot run in this build: \(reason)."
    case .store(let path, let operation, let cause):
      return "\(path): results store \(operation) failed (\(cause))."
    case .noStudy(let directory):
      return "\(directory): no study.sqlite here; run `medtransfer study run SPEC` first or pass "
        + "the study folder that holds study.sqlite."
    case .manifest(let path, let row, let reason):
      return "\(path)\(row.map { " row \($0)" } ?? ""): \(reason)."
    case .runFailed(let run, let reason):
      return "run \(run) failed: \(reason)"
    }
  }
}
