/// Everything a user can get wrong feeding data to MedTransfer, with the input and the cause.
///
/// Messages name the file (and the row for manifests), the reason and, where known, the fix.
/// They never contain patient identifiers: rows are referred to by number.
public enum DatasetsError: Error, CustomStringConvertible, Equatable {
  /// The phantom spec (YAML) cannot be read or is inconsistent.
  case invalidSpec(path: String, cause: String)
  /// A manifest or labels CSV cannot be read or parsed.
  case invalidManifest(path: String, cause: String)
  /// One or more manifest rows are bad and `--on-bad fail` is in effect.
  case badRows(path: String, rows: [BadRow])
  /// A dataset source (folder, CSV) does not exist or has no images.
  case notFound(path: String, cause: String)
  /// A split or budget request cannot be satisfied.
  case invalidSplit(cause: String)
  /// An image cannot be decoded or preprocessed.
  case decode(path: String, cause: String)
  /// The tensor cache cannot be read or written.
  case cache(path: String, cause: String)
  /// Writing generated data failed.
  case io(path: String, cause: String)
  /// A window setting (`--window`, a spec's `preprocessing.window`) cannot be parsed.
  case invalidWindow(input: String, text: String)

  public var description: String {
    switch self {
    case .invalidSpec(let path, let cause):
      return
        "\(path): invalid dataset spec (\(cause)); see datasets/chest-ct-sites.yaml for the format"
    case .invalidManifest(let path, let cause):
      return "\(path): invalid manifest (\(cause))"
    case .badRows(let path, let rows):
      let shown = rows.prefix(5).map(\.description).joined(separator: "; ")
      let more = rows.count > 5 ? "; and \(rows.count - 5) more" : ""
      return "\(path): \(rows.count) bad row(s): \(shown)\(more); fix them or pass --on-bad skip"
    case .notFound(let path, let cause):
      return "\(path): \(cause)"
    case .invalidSplit(let cause):
      return "cannot split the dataset: \(cause)"
    case .decode(let path, let cause):
      return "\(path): cannot decode image (\(cause))"
    case .cache(let path, let cause):
      return "\(path): tensor cache error (\(cause)); delete the cache folder to rebuild it"
    case .io(let path, let cause):
      return "\(path): cannot write (\(cause))"
    case .invalidWindow(let input, let text):
      return "\(input) '\(text)': not a window setting; use auto, file, file:C,W, C,W (e.g. "
        + "40,400) or pLOW,HIGH (e.g. p0.5,99.5)"
    }
  }
}

/// A manifest row that was rejected, by 1-based row number (the header is row 1 in a CSV).
public struct BadRow: Codable, Equatable, Sendable, CustomStringConvertible {
  /// Why a row was rejected.
  public enum Reason: String, Codable, Sendable {
    case missingFile, unknownLabel, duplicatePath, patientInTwoSplits, undecodable, malformed
  }
  /// 1-based line number in the CSV (header = 1), or the file's position for discovered trees.
  public var row: Int
  /// The (relative) path the row names; never a patient identifier.
  public var path: String
  /// The machine-readable reason.
  public var reason: Reason
  /// A human-readable detail.
  public var detail: String

  public init(row: Int, path: String, reason: Reason, detail: String) {
    self.row = row
    self.path = path
    self.reason = reason
    self.detail = detail
  }

  public var description: String { "row \(row) (\(path)): \(reason.rawValue): \(detail)" }
}

extension BadRow {
  /// The bad row (`undecodable`) of an entry whose file cannot be read or decoded; the detail
  /// is the decoder's cause (the row already names the file).
  public init(undecodable entry: DatasetEntry, error: Error) {
    var detail = "\(error)"
    if case .decode(_, let cause)? = error as? DatasetsError { detail = cause }
    self.init(row: entry.row, path: entry.key, reason: .undecodable, detail: detail)
  }
}
