import Foundation
import Interchange

/// One shift analysis as a file, `<study>/results/shift-<key>.json`: written like a run's
/// result file (whole or not at all) and imported by `study merge` the same way.
public struct ShiftResultFile: Codable, Sendable, Equatable {
  /// The format written by this version.
  public static let currentFormat = "medtransfer.shift-result/1"

  public var format: String
  /// The analysis' identity (`StudyRunner.shiftKey`).
  public var key: String
  public var record: ShiftAnalysisRecord

  public init(key: String, record: ShiftAnalysisRecord) {
    format = Self.currentFormat
    self.key = key
    self.record = record
  }

  /// Where the analysis with `key` goes.
  public static func url(key: String, in studyDirectory: URL) -> URL {
    RunResultFile.folder(in: studyDirectory).appendingPathComponent("shift-\(key).json")
  }

  /// Writes the file atomically and returns its URL.
  @discardableResult
  public func write(in studyDirectory: URL) throws -> URL {
    let url = Self.url(key: key, in: studyDirectory)
    try writeAtomically(
      try JSONCoding.encoder(.canonical).encode(self), to: url, what: "write shift analysis")
    return url
  }

  /// Reads and checks one file (whole, this format, the key its name says).
  public static func read(_ url: URL) throws -> ShiftResultFile {
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw StudiesError.badResultFile(path: url.path, reason: "cannot be read")
    }
    guard let file = try? JSONCoding.decoder().decode(ShiftResultFile.self, from: data) else {
      throw StudiesError.badResultFile(
        path: url.path,
        reason: "does not decode (\(data.count) bytes; truncated or half-written?)")
    }
    guard file.format == currentFormat,
      "shift-\(file.key)" == url.deletingPathExtension().lastPathComponent
    else {
      throw StudiesError.badResultFile(
        path: url.path, reason: "not a \(currentFormat) file for the analysis its name says")
    }
    return file
  }

  /// The complete shift analysis files of a study.
  public static func list(in studyDirectory: URL) -> [URL] {
    let folder = RunResultFile.folder(in: studyDirectory)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return names.filter { $0.hasPrefix("shift-") && $0.hasSuffix(".json") }.sorted()
      .map { folder.appendingPathComponent($0) }
  }
}
