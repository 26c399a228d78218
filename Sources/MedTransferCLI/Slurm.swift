import Foundation
import Interchange

/// Slurm's own client commands (`sbatch`, `squeue`, `sinfo`), run as a researcher's scripts
/// would run them. MedTransfer schedules nothing itself: it writes sbatch scripts, submits
/// them with dependencies, and asks `squeue` what is queued.
enum Slurm {
  /// The full path of `tool` on PATH, or nil.
  static func which(_ tool: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for dir in path.split(separator: ":") where !dir.isEmpty {
      let candidate = "\(dir)/\(tool)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// Throws (one line) unless every tool is on PATH.
  static func requireTools(_ tools: [String]) throws {
    for tool in tools where which(tool) == nil {
      throw CLIError(
        "\(tool): not found on PATH; submitting needs Slurm's client commands (Debian package "
          + "slurm-client) on a host that can reach the cluster; for a one-node cluster on this "
          + "machine run scripts/slurm-local, or use --dry-run to only write the sbatch scripts")
    }
  }

  /// Runs `tool` with `arguments` and waits (a CLI error when it is not on PATH).
  static func run(_ tool: String, _ arguments: [String]) throws -> ExternalCommand.Output {
    guard which(tool) != nil else { throw CLIError("\(tool): not found on PATH") }
    return ExternalCommand.run([tool] + arguments)
  }

  /// The partitions `sinfo` lists.
  static func partitions() throws -> [String] {
    let out = try run("sinfo", ["-h", "-o", "%R"])
    guard out.status == 0 else {
      throw CLIError(
        "sinfo: cannot reach the Slurm controller (\(firstLine(out.stderr))); check that "
          + "slurmctld runs (scripts/slurm-local starts a local one)")
    }
    return out.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty }
  }

  /// The cluster's `MaxArraySize` (array task IDs must be below it), or nil when unknown.
  static func maxArraySize() -> Int? {
    guard which("scontrol") != nil else { return nil }
    let out = ExternalCommand.run(["scontrol", "show", "config"])
    guard out.status == 0 else { return nil }
    for line in out.stdout.split(separator: "\n") where line.hasPrefix("MaxArraySize") {
      return line.split(separator: "=").last.flatMap {
        Int($0.trimmingCharacters(in: .whitespaces))
      }
    }
    return nil
  }

  /// Submits `script` (after `dependency`, e.g. `afterany:123`) and returns the job ID.
  static func sbatch(_ script: URL, dependency: String? = nil) throws -> String {
    let arguments =
      ["--parsable"] + (dependency.map { ["--dependency=\($0)"] } ?? []) + [script.path]
    let out = try run("sbatch", arguments)
    let id =
      out.stdout.split(separator: ";").first.map(String.init)?
      .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    guard out.status == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
      throw CLIError(
        "sbatch \(script.lastPathComponent): \(firstLine(out.stderr + out.stdout)); the script "
          + "is kept at \(script.path)")
    }
    return id
  }

  /// Slurm's view of `jobs` (array tasks one per line): `"<job>_<index>"` or `"<job>"` →
  /// state (`PENDING`, `RUNNING`, …). Nil when `squeue` is missing or cannot answer.
  static func queue(jobs: [String]) -> [String: String]? {
    guard !jobs.isEmpty, which("squeue") != nil else { return jobs.isEmpty ? [:] : nil }
    guard
      let out = try? run(
        "squeue", ["-h", "-r", "-j", jobs.joined(separator: ","), "-o", "%i %T"])
    else { return nil }
    // squeue exits non-zero for job IDs it has forgotten; an empty answer then means none.
    if out.status != 0 && !out.stderr.contains("Invalid job id") { return nil }
    var states: [String: String] = [:]
    for line in out.stdout.split(separator: "\n") {
      let parts = line.split(separator: " ")
      if parts.count == 2 { states[String(parts[0])] = String(parts[1]) }
    }
    return states
  }

  /// `0-3,7,9-11`: an `--array` list for sorted, distinct `indices`.
  static func arrayList(_ indices: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    while i < indices.count {
      var j = i
      while j + 1 < indices.count && indices[j + 1] == indices[j] + 1 { j += 1 }
      parts.append(i == j ? "\(indices[i])" : "\(indices[i])-\(indices[j])")
      i = j + 1
    }
    return parts.joined(separator: ",")
  }

  /// `text` single-quoted for a shell.
  static func quoted(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  static func firstLine(_ text: String) -> String {
    text.split(separator: "\n").first.map(String.init)?.trimmingCharacters(in: .whitespaces)
      ?? "no output"
  }
}

/// The resources every job of a submission asks for (`study submit`'s options).
struct SlurmResources: Codable, Equatable {
  var partition: String?
  var time: String?
  var cpusPerTask: Int
  var memory: String?
  var maxParallel: Int?

  /// The `#SBATCH` lines for a job named `name` logging to `log`, with `array` indices.
  func directives(name: String, log: String, array: [Int]? = nil) -> [String] {
    var lines = [
      "#SBATCH --job-name=\(name)", "#SBATCH --output=\(log)",
      "#SBATCH --cpus-per-task=\(cpusPerTask)",
    ]
    if let array {
      lines.append(
        "#SBATCH --array=\(Slurm.arrayList(array))" + (maxParallel.map { "%\($0)" } ?? ""))
    }
    if let partition { lines.append("#SBATCH --partition=\(partition)") }
    if let time { lines.append("#SBATCH --time=\(time)") }
    if let memory { lines.append("#SBATCH --mem=\(memory)") }
    return lines
  }
}

/// What one `study submit` submitted, kept in `<study>/slurm/jobs.json` (newest last) for
/// `study status`.
struct SlurmSubmission: Codable {
  var submittedAt: String
  var sourceModelsJob: String?
  var runsJob: String?
  var shiftJob: String?
  var finalizeJob: String
  /// Plan positions of the runs submitted (the runs array's task IDs).
  var runs: [Int]
  var sourceModels: [Int]
  var shifts: [Int]

  var jobIDs: [String] { [sourceModelsJob, runsJob, shiftJob, finalizeJob].compactMap { $0 } }

  static func url(in study: URL) -> URL {
    study.appendingPathComponent("slurm/jobs.json")
  }

  static func all(in study: URL) -> [SlurmSubmission] {
    guard let data = FileManager.default.contents(atPath: url(in: study).path) else { return [] }
    return (try? JSONCoding.decoder().decode([SlurmSubmission].self, from: data)) ?? []
  }

  static func append(_ submission: SlurmSubmission, in study: URL) throws {
    let data = try JSONCoding.encoder(.pretty).encode(all(in: study) + [submission])
    try data.write(to: url(in: study), options: .atomic)
  }
}
