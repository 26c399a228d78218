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
  /// The study folder has no plan.json (it was never prepared).
  case noPlan(directory: String)
  /// The study folder was planned from another version of the spec.
  case planMismatch(spec: String, directory: String)
  /// A result file that cannot be imported (truncated, half-written, another run's).
  case badResultFile(path: String, reason: String)
  /// A task index outside the plan.
  case noSuchTask(what: String, index: Int, count: Int)

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
    case .noPlan(let directory):
      return "\(directory): no plan.json here; prepare the study first with `medtransfer study "
        + "submit SPEC` (or `study run SPEC`), or pass the folder it wrote."
    case .planMismatch(let spec, let directory):
      return "\(spec): changed since \(directory)/plan.json was planned from it; submit the "
        + "study again (`medtransfer study submit \(spec)`) so its tasks run the current spec."
    case .badResultFile(let path, let reason):
      return "\(path): not imported: \(reason); the run has no result and runs again when "
        + "the study is resubmitted (delete the file, or rerun that run's task)."
    case .noSuchTask(let what, let index, let count):
      return "\(what) \(index): the plan has \(count) (0...\(max(count - 1, 0))); pass an "
        + "index the plan has."
    }
  }
}
