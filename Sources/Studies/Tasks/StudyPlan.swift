import Foundation
import Interchange

/// What a study will run: every run of the spec in order (with its datasets' content hashes,
/// so with its final hash) and the shared source models those runs start from.
///
/// `study run` and `study submit` write it to `<study>/plan.json` when they prepare the study;
/// `study task` reads it, so a task on another node runs exactly the planned run without
/// fingerprinting the data again or opening the study's SQLite store (which must not be
/// shared between nodes).
public struct StudyPlan: Codable, Sendable, Equatable {
  /// The file name inside a study folder.
  public static let fileName = "plan.json"
  /// The format written by this version.
  public static let currentFormat = "medtransfer.study-plan/1"

  /// One shared source model: its file (relative to the study folder) and the planned runs
  /// that start from it; the first of them defines its training.
  public struct SourceModel: Codable, Sendable, Equatable {
    public var file: String
    public var runs: [Int]
  }

  /// One source → target shift analysis, keyed like the store keys it.
  public struct ShiftPair: Codable, Sendable, Equatable {
    public var key: String
    public var source: DatasetRef
    public var target: DatasetRef
  }

  public var format: String
  /// The study's name (spec key `name`).
  public var study: String
  /// SHA-256 of the spec's YAML text: a task refuses a spec edited after planning.
  public var specSHA256: String
  /// The runs in spec order; a task's `--index` is a position here.
  public var runs: [RunConfig]
  /// The shared source models in order of first use; `--source-model` is a position here.
  public var sourceModels: [SourceModel]
  /// The shift analyses the spec asks for (empty when `shift.analyses` is).
  public var shifts: [ShiftPair]

  /// Plans `runs` of `spec`: asks `executor` which shared source model each run needs, and
  /// keys a shift analysis per target with the datasets' content hashes `datasetHashes`.
  public init(
    spec: StudySpec, runs: [RunConfig], datasetHashes: [String: String],
    executor: any RunExecutor, context: StudyContext
  ) throws {
    format = Self.currentFormat
    study = spec.name
    specSHA256 = Self.fingerprint(spec)
    self.runs = runs
    var models: [SourceModel] = []
    var position: [String: Int] = [:]
    let base = context.studyDirectory.standardizedFileURL.path + "/"
    for (index, run) in runs.enumerated() {
      guard let url = try executor.sourceModel(for: run, context: context) else { continue }
      let path = url.standardizedFileURL.path
      let file = path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
      if let at = position[file] {
        models[at].runs.append(index)
      } else {
        position[file] = models.count
        models.append(SourceModel(file: file, runs: [index]))
      }
    }
    sourceModels = models
    var source = spec.source
    source.contentHash = datasetHashes[source.key]
    shifts =
      spec.shift.analyses.isEmpty
      ? []
      : spec.targets.map { t in
        var target = t
        target.contentHash = datasetHashes[target.key]
        return ShiftPair(
          key: StudyRunner.shiftKey(source: source, target: target, settings: spec.shift),
          source: source, target: target)
      }
  }

  /// The spec's identity as the plan records it.
  public static func fingerprint(_ spec: StudySpec) -> String { sha256Hex(Data(spec.yaml.utf8)) }

  /// Where a source model's file is, for a study in `directory`.
  public func url(of model: SourceModel, in directory: URL) -> URL {
    model.file.hasPrefix("/")
      ? URL(fileURLWithPath: model.file) : directory.appendingPathComponent(model.file)
  }

  /// Writes the plan atomically to `<directory>/plan.json`.
  public func write(to directory: URL) throws {
    let url = directory.appendingPathComponent(Self.fileName)
    do {
      try JSONCoding.encoder(.pretty).encode(self).write(to: url, options: .atomic)
    } catch {
      throw StudiesError.store(path: url.path, operation: "write plan", cause: "\(error)")
    }
  }

  /// Reads `<directory>/plan.json`; with `spec`, checks that it was planned from that spec.
  public static func read(from directory: URL, spec: StudySpec? = nil) throws -> StudyPlan {
    let url = directory.appendingPathComponent(fileName)
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw StudiesError.noPlan(directory: directory.path)
    }
    let plan: StudyPlan
    do {
      plan = try JSONCoding.decoder().decode(StudyPlan.self, from: data)
    } catch {
      throw StudiesError.store(path: url.path, operation: "read plan", cause: "\(error)")
    }
    guard plan.format == currentFormat else {
      throw StudiesError.store(
        path: url.path, operation: "read plan",
        cause: "format \(plan.format), this version reads \(currentFormat)")
    }
    if let spec, plan.specSHA256 != fingerprint(spec) {
      throw StudiesError.planMismatch(spec: spec.file, directory: directory.path)
    }
    return plan
  }
}
