import Foundation
import Interchange

/// The fingerprints of a dataset, in one place: what a study's run hashes and shared source
/// models are keyed by (`content`), and what a run's `config.json` records of its input
/// (`source`).
public enum DatasetFingerprint {
  /// SHA-256 over the manifest's bytes and every listed file's SHA-256, in row order (a file
  /// that cannot be read counts as "absent": the dataset check reports it as a bad row). The
  /// files' SHA-256s come from `FileDigests.shared`, which reads only files changed since it
  /// last hashed them. Any
  /// change to a label, a path or an image changes it, so a study reuses no result of changed
  /// data.
  ///
  /// Computed once per process for a manifest of a given path, size and modification time:
  /// every run of a study asks again (its shared source model is keyed by it), and hashing
  /// every image per run cost seconds on the phantom.
  public static func content(manifest: URL) throws -> String {
    let attributes = try? FileManager.default.attributesOfItem(atPath: manifest.path)
    let key = [
      manifest.standardizedFileURL.path, "\((attributes?[.size] as? NSNumber)?.intValue ?? -1)",
      "\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1)",
    ].joined(separator: "|")
    return try memo.value(for: key) {
      let text = try String(contentsOf: manifest, encoding: .utf8)
      var parts = [sha256Hex(Data(text.utf8))]
      let folder = manifest.deletingLastPathComponent()
      let records = CSV.parse(text)
      if let column = records.first?.fields.firstIndex(of: "path") {
        for record in records.dropFirst() where column < record.fields.count {
          let path = record.fields[column]
          let url =
            path.hasPrefix("/")
            ? URL(fileURLWithPath: path)
            : folder.appendingPathComponent(path)
          parts.append((try? FileDigests.shared.sha256(ofFile: url.path)) ?? "absent")
        }
      }
      return sha256Hex(Data(parts.joined(separator: "\n").utf8))
    }
  }

  /// What `train` and `evaluate` record of their `--data`: the SHA-256 of a manifest's bytes,
  /// or of a folder's sorted file listing (names only: cheap enough for every run).
  public static func source(_ path: String) -> String {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
      !isDirectory.boolValue,
      let data = try? Data(contentsOf: URL(fileURLWithPath: path))
    {
      return sha256Hex(data)
    }
    let files = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? [])
      .sorted()
    return sha256Hex(Data(files.joined(separator: "\n").utf8))
  }

  private static let memo = Memo()

  /// A process-wide memo of computed strings (a lock around a dictionary).
  final class Memo: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: String] = [:]

    func value(for key: String, _ compute: () throws -> String) rethrows -> String {
      if let cached = lock.withLock({ values[key] }) { return cached }
      let value = try compute()
      lock.withLock { values[key] = value }
      return value
    }
  }
}
