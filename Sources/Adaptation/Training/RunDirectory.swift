import Foundation
import Interchange

/// The files of one run folder (`runs/NAME`): `config.json`, `metrics.jsonl`, checkpoints and
/// `summary.json`.
///
/// Files are replaced atomically (written to a temporary name, then renamed) so a run killed
/// at any moment leaves either the old or the new version, never half of one.
public struct RunDirectory: Sendable {
  /// The folder.
  public let url: URL

  /// Creates (if needed) the folder at `url`.
  public init(_ url: URL) throws {
    self.url = url
    do {
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
      throw AdaptationError.checkpointUnreadable(path: url.path, reason: "cannot create: \(error)")
    }
  }

  /// `config.json`.
  public var configURL: URL { url.appendingPathComponent("config.json") }
  /// `metrics.jsonl`.
  public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }
  /// `summary.json`.
  public var summaryURL: URL { url.appendingPathComponent("summary.json") }
  /// The best checkpoint (safetensors): what `evaluate` loads.
  public var bestCheckpointURL: URL { url.appendingPathComponent("model.safetensors") }
  /// The run's configuration record and its best checkpoint loaded into a fresh model: what
  /// `evaluate` and `shift --checkpoint` score with.
  public func loadBestModel() throws -> (model: TransferModel, record: RunConfigRecord) {
    guard FileManager.default.fileExists(atPath: configURL.path) else {
      throw AdaptationError.checkpointUnreadable(path: url.path, reason: "no config.json")
    }
    let record = try Self.readJSON(RunConfigRecord.self, from: configURL)
    let model = try ModelFactories.standard(record.configuration, record.data.classes.count, 3)
    try Checkpoint.load(bestCheckpointURL, into: model)
    return (model, record)
  }

  /// `resume.json`: the trainer state after the last finished epoch, naming the files under
  /// `resume/` (model, optimizer moments, best weights) that a resumed run continues from.
  public var resumeStateURL: URL { url.appendingPathComponent("resume.json") }
  /// `resume/`: the files `resume.json` names.
  public var resumeFolderURL: URL { url.appendingPathComponent("resume") }

  /// A file under `resume/` (the folder is created on first use).
  func resumeFile(_ name: String) -> URL {
    try? FileManager.default.createDirectory(at: resumeFolderURL, withIntermediateDirectories: true)
    return resumeFolderURL.appendingPathComponent(name)
  }

  /// Deletes `resume.json` and `resume/` (a finished run needs neither).
  public func removeResumeState() {
    try? FileManager.default.removeItem(at: resumeStateURL)
    try? FileManager.default.removeItem(at: resumeFolderURL)
  }

  /// Deletes the files under `resume/` that the current `resume.json` no longer names.
  func removeResumeFiles(except keep: Set<String>) {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: resumeFolderURL.path)) ?? []
    for name in names where !keep.contains(name) {
      try? FileManager.default.removeItem(at: resumeFolderURL.appendingPathComponent(name))
    }
  }

  /// Interchange's one JSON coder: pretty files, canonical JSON Lines.
  static let encoder = JSONCoding.encoder(.pretty)
  static let lineEncoder = JSONCoding.encoder(.canonical)
  static let decoder = JSONCoding.decoder()

  /// Writes `value` as pretty JSON to `url`, atomically.
  public static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
    let data = try encoder.encode(value)
    try data.write(to: url, options: .atomic)
  }

  /// Reads JSON from `url`.
  public static func readJSON<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    do {
      return try decoder.decode(type, from: Data(contentsOf: url))
    } catch {
      throw AdaptationError.checkpointUnreadable(path: url.path, reason: "\(error)")
    }
  }

  /// Appends one JSON line to `metrics.jsonl`.
  public func appendMetrics(_ record: EpochLog) throws {
    var line = try RunDirectory.lineEncoder.encode(record)
    line.append(0x0A)
    if let handle = try? FileHandle(forWritingTo: metricsURL) {
      defer { try? handle.close() }
      try handle.seekToEnd()
      try handle.write(contentsOf: line)
    } else {
      try line.write(to: metricsURL)
    }
  }

  /// The epoch records written so far (a torn last line from a kill is dropped).
  public func readMetrics() -> [EpochLog] {
    guard let data = try? Data(contentsOf: metricsURL) else { return [] }
    return data.split(separator: 0x0A).compactMap {
      try? RunDirectory.decoder.decode(EpochLog.self, from: Data($0))
    }
  }

  /// Rewrites `metrics.jsonl` to hold exactly `records` (used when resuming).
  public func rewriteMetrics(_ records: [EpochLog]) throws {
    var data = Data()
    for r in records {
      data.append(try RunDirectory.lineEncoder.encode(r))
      data.append(0x0A)
    }
    try data.write(to: metricsURL, options: .atomic)
  }
}
