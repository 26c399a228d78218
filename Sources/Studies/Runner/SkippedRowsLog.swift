import Adaptation
import Datasets
import Foundation

/// The study folder's list of rows left out under `data.on_bad: skip`: `skipped-rows.txt`, one
/// line per dataset and row (`<manifest>: row 7 (a/b.dcm): undecodable: …`).
///
/// Every run loads its data again and may meet the same bad rows; the list keeps each row once,
/// so each is printed once however many runs, workers (`--workers`, under a file lock) and
/// resumptions meet it.
struct SkippedRowsLog {
  /// `skipped-rows.txt` in the study folder.
  let url: URL

  init(studyDirectory: URL) {
    url = studyDirectory.appendingPathComponent("skipped-rows.txt")
  }

  /// Adds the rows of `dataset` not yet listed and returns their lines (to print).
  func record(_ rows: [BadRow], dataset: String) throws -> [String] {
    guard !rows.isEmpty else { return [] }
    let lock = try FileLock(path: url.path + ".lock")
    defer { lock.unlock() }
    let existing = Set(
      ((try? String(contentsOf: url, encoding: .utf8)) ?? "")
        .split(separator: "\n").map(String.init))
    var added: [String] = []
    for row in rows {
      // One line each: a decoder's message may hold a newline.
      let line = "\(dataset): \(row)".split(whereSeparator: \.isNewline).joined(separator: " ")
      if !existing.contains(line) && !added.contains(line) { added.append(line) }
    }
    guard !added.isEmpty else { return [] }
    do {
      let handle: FileHandle
      if FileManager.default.fileExists(atPath: url.path) {
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
      } else {
        try FileManager.default.createDirectory(
          at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: url.path, contents: nil)
        handle = try FileHandle(forWritingTo: url)
      }
      defer { try? handle.close() }
      try handle.write(contentsOf: Data(added.map { $0 + "\n" }.joined().utf8))
    } catch {
      throw StudiesError.store(
        path: url.path, operation: "listing skipped rows", cause: error.localizedDescription)
    }
    return added
  }

  /// Lines listed so far.
  func count() -> Int {
    ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").count
  }
}
