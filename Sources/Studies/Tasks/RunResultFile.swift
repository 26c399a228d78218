import Foundation
import Interchange

/// One run's outcome as a file: what a `study task` writes (on any node) and `study merge`
/// imports into the study's store. `study run` goes through the same files.
///
/// Written to `<study>/results/<config hash>.json` through a temporary file in the same folder
/// that is renamed into place only when complete, so a task killed at any moment leaves either
/// the whole file or none; a file that does not decode (truncated, half-copied) is reported by
/// `study merge` and never imported.
public struct RunResultFile: Codable, Sendable, Equatable {
  /// The format written by this version.
  public static let currentFormat = "medtransfer.run-result/1"
  /// The folder inside a study folder.
  public static let folderName = "results"

  public var format: String
  /// The run's config hash (also the file's name).
  public var hash: String
  /// The run's short label, for people reading the file.
  public var label: String
  /// `finished` or `failed`.
  public var status: RunStatus
  /// Why the run failed (nil when finished).
  public var error: String?
  public var wallSeconds: Double
  /// 1 for a first attempt; more when an earlier attempt left checkpoints behind.
  public var attempt: Int
  /// Where it ran (the host name) and when it ended (ISO 8601).
  public var host: String
  public var finishedAt: String
  /// The result (nil for a run that failed without one).
  public var result: RunResult?

  /// A file for `config` with `result` (failed if the result carries a failure).
  public init(config: RunConfig, result: RunResult, attempt: Int) {
    self.init(
      config: config, status: result.failure == nil ? .finished : .failed, error: result.failure,
      wallSeconds: result.wallSeconds, attempt: attempt, result: result)
  }

  /// A file for `config` that failed without a result.
  public init(config: RunConfig, error: String, wallSeconds: Double, attempt: Int) {
    self.init(
      config: config, status: .failed, error: error, wallSeconds: wallSeconds, attempt: attempt,
      result: nil)
  }

  private init(
    config: RunConfig, status: RunStatus, error: String?, wallSeconds: Double, attempt: Int,
    result: RunResult?
  ) {
    format = Self.currentFormat
    hash = config.hash
    label = config.label
    self.status = status
    self.error = error
    self.wallSeconds = wallSeconds
    self.attempt = attempt
    host = ProcessInfo.processInfo.hostName
    finishedAt = StudyStore.timestamp()
    self.result = result
  }

  /// The results folder of a study.
  public static func folder(in studyDirectory: URL) -> URL {
    studyDirectory.appendingPathComponent(folderName)
  }

  /// Where the file of the run with `hash` goes.
  public static func url(hash: String, in studyDirectory: URL) -> URL {
    folder(in: studyDirectory).appendingPathComponent("\(hash).json")
  }

  /// Writes the file atomically (`writeAtomically`) and returns its URL.
  @discardableResult
  public func write(in studyDirectory: URL) throws -> URL {
    let url = Self.url(hash: hash, in: studyDirectory)
    try writeAtomically(
      try JSONCoding.encoder(.canonical).encode(self), to: url, what: "write run result")
    return url
  }

  /// Reads and checks one file: it must decode whole, be of this format, and carry the hash
  /// its name says. The error is the one-line reason it cannot be imported.
  public static func read(_ url: URL) throws -> RunResultFile {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw StudiesError.badResultFile(path: url.path, reason: "cannot be read")
    }
    let file: RunResultFile
    do {
      file = try JSONCoding.decoder().decode(RunResultFile.self, from: data)
    } catch {
      throw StudiesError.badResultFile(
        path: url.path,
        reason: "does not decode (\(data.count) bytes; truncated or half-written?)")
    }
    guard file.format == currentFormat else {
      throw StudiesError.badResultFile(
        path: url.path, reason: "format \(file.format), this version reads \(currentFormat)")
    }
    let stem = url.deletingPathExtension().lastPathComponent
    guard file.hash == stem else {
      throw StudiesError.badResultFile(
        path: url.path, reason: "holds run \(file.hash.prefix(16)), not the run its name says")
    }
    guard file.status == .finished || file.status == .failed else {
      throw StudiesError.badResultFile(path: url.path, reason: "status \(file.status.rawValue)")
    }
    guard file.status == .failed || file.result != nil else {
      throw StudiesError.badResultFile(path: url.path, reason: "finished without a result")
    }
    return file
  }

  /// The complete result files of a study (not the temporary ones of running tasks), by name.
  public static func list(in studyDirectory: URL) -> [URL] {
    let folder = Self.folder(in: studyDirectory)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") && !$0.hasPrefix("shift-") }
      .sorted()
      .map { folder.appendingPathComponent($0) }
  }
}

/// Writes `data` to `url` so that readers see the whole file or none: to a temporary name in
/// the same folder (`.<name>.<pid>.partial`, never listed as a result), flushed to disk, then
/// renamed over `url` (rename(2) replaces atomically).
func writeAtomically(_ data: Data, to url: URL, what: String) throws {
  let folder = url.deletingLastPathComponent()
  let temporary = folder.appendingPathComponent(
    ".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).partial")
  do {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
      throw CocoaError(.fileWriteUnknown)
    }
    let handle = try FileHandle(forWritingTo: temporary)
    try handle.write(contentsOf: data)
    try handle.synchronize()
    try handle.close()
    guard rename(temporary.path, url.path) == 0 else {
      throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
  } catch {
    try? FileManager.default.removeItem(at: temporary)
    throw StudiesError.store(path: url.path, operation: what, cause: "\(error)")
  }
}
