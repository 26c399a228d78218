import Dispatch
import Foundation

/// Loads datasets from a manifest CSV, an ImageFolder tree or a DICOM tree with a labels CSV,
/// validating every row.
///
/// Manifest CSV: a header with at least `path,label`, optionally `domain`, `patient`, `split`
/// (other columns are ignored); paths are relative to the CSV's folder. A folder holding a
/// `manifest.csv` is read as that manifest; otherwise a folder is an ImageFolder tree
/// (`root/<label>/**/*.{dcm,png,jpg}`), or, with `labelsCSV`, a DICOM tree.
///
/// Patients: a manifest's `patient` column wins. Otherwise each DICOM file's header gives it
/// (header only, no pixel decode): the salted hash of its PatientID, or, where PatientID is
/// empty, of its StudyInstanceUID. A file whose header cannot be read is a bad row
/// (`undecodable`). PNG and JPEG files have no header: each is its own patient (`Dataset.patientWarning`).
public enum DatasetLoader {
  /// Loads `source` (a CSV file or a folder).
  public static func load(_ source: String, options: DatasetLoadOptions = .init()) throws -> Dataset
  {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: source, isDirectory: &isDir) else {
      throw DatasetsError.notFound(path: source, cause: "no such file or folder; check the path")
    }
    if isDir.boolValue {
      if let labels = options.labelsCSV {
        return try loadDicomTree(source, labelsCSV: labels, options: options)
      }
      let manifest = (source as NSString).appendingPathComponent("manifest.csv")
      if FileManager.default.fileExists(atPath: manifest) {
        return try loadManifest(manifest, options: options)
      }
      return try loadImageFolder(source, options: options)
    }
    return try loadManifest(source, options: options)
  }

  // MARK: - Manifest CSV

  /// Loads a manifest CSV.
  public static func loadManifest(_ path: String, options: DatasetLoadOptions = .init()) throws
    -> Dataset
  {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw DatasetsError.invalidManifest(path: path, cause: "cannot read it as UTF-8 text")
    }
    let records = CSV.parse(text)
    guard let header = records.first else {
      throw DatasetsError.invalidManifest(
        path: path, cause: "the file is empty; it needs a header row path,label")
    }
    let columns = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    guard let pathColumn = columns.firstIndex(of: "path"),
      let labelColumn = columns.firstIndex(of: "label")
    else {
      throw DatasetsError.invalidManifest(
        path: path,
        cause:
          "the header must name columns 'path' and 'label' (got \(columns.joined(separator: ",")))")
    }
    let domainColumn = columns.firstIndex(of: "domain")
    let patientColumn = columns.firstIndex(of: "patient")
    let splitColumn = columns.firstIndex(of: "split")
    let base = (path as NSString).deletingLastPathComponent
    var candidates: [DatasetEntry] = []
    var bad: [BadRow] = []
    for record in records.dropFirst() {
      func field(_ i: Int?) -> String? {
        guard let i, i < record.fields.count else { return nil }
        let v = record.fields[i].trimmingCharacters(in: .whitespaces)
        return v.isEmpty ? nil : v
      }
      guard record.fields.count >= max(pathColumn, labelColumn) + 1, let rel = field(pathColumn)
      else {
        bad.append(
          BadRow(
            row: record.line, path: field(pathColumn) ?? "", reason: .malformed,
            detail: "expected \(columns.count) columns with a path"))
        continue
      }
      let resolved = rel.hasPrefix("/") ? rel : (base as NSString).appendingPathComponent(rel)
      candidates.append(
        DatasetEntry(
          path: lexicallyNormalized(resolved), key: rel, label: field(labelColumn) ?? "",
          domain: field(domainColumn), patient: field(patientColumn).map { patientKey($0) },
          patientSource: .column, split: field(splitColumn), row: record.line))
    }
    return try finish(source: path, candidates: candidates, bad: bad, options: options)
  }

  /// `path` with `.` and `..` components and repeated slashes removed, without touching the
  /// file system (`NSString.standardizingPath` also resolves symbolic links, one `readlink` per
  /// component: 40% of loading a 1,500-row manifest, which every run of a study does).
  static func lexicallyNormalized(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
      switch part {
      case ".": continue
      case "..":
        if let last = parts.last, last != ".." {
          parts.removeLast()
        } else if !path.hasPrefix("/") {
          parts.append(part)
        }
      default: parts.append(part)
      }
    }
    return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
  }

  // MARK: - ImageFolder

  /// Loads `root/<label>/**/*.{dcm,png,jpg,jpeg}`; the label is the first folder level.
  public static func loadImageFolder(_ root: String, options: DatasetLoadOptions = .init()) throws
    -> Dataset
  {
    let fm = FileManager.default
    let labelDirs = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted().filter {
      var d: ObjCBool = false
      return !$0.hasPrefix(".") && fm.fileExists(atPath: root + "/" + $0, isDirectory: &d)
        && d.boolValue
    }
    var candidates: [DatasetEntry] = []
    for label in labelDirs {
      let files = (fm.enumerator(atPath: root + "/" + label)?.allObjects as? [String] ?? [])
        .sorted()
      for f in files where isImageFile(f) {
        let rel = label + "/" + f
        candidates.append(
          DatasetEntry(path: root + "/" + rel, key: rel, label: label, row: candidates.count + 1))
      }
    }
    guard !candidates.isEmpty else {
      throw DatasetsError.notFound(
        path: root,
        cause: "no images found; expected manifest.csv or <label>/*.dcm|*.png|*.jpg folders")
    }
    return try finish(source: root, candidates: candidates, bad: [], options: options)
  }

  static func isImageFile(_ name: String) -> Bool {
    let lower = name.lowercased()
    return lower.hasSuffix(".dcm") || lower.hasSuffix(".dicom")
      || ScanLoader.hasRasterExtension(lower)
  }

  // MARK: - DICOM tree + labels CSV

  /// Loads every DICOM file under `root`, labelled through `labelsCSV` keyed by the attribute
  /// named in its first column (e.g. `SOPInstanceUID`). The patient comes from PatientID, or
  /// from StudyInstanceUID where PatientID is empty (both salted-hashed).
  public static func loadDicomTree(
    _ root: String, labelsCSV: String, options: DatasetLoadOptions = .init()
  ) throws -> Dataset {
    let text: String
    do { text = try String(contentsOfFile: labelsCSV, encoding: .utf8) } catch {
      throw DatasetsError.invalidManifest(path: labelsCSV, cause: "cannot read it as UTF-8 text")
    }
    let records = CSV.parse(text)
    guard let header = records.first, header.fields.count >= 2,
      let labelColumn = header.fields.firstIndex(where: { $0.lowercased() == "label" }),
      labelColumn != 0
    else {
      throw DatasetsError.invalidManifest(
        path: labelsCSV,
        cause: "the header must be <DICOM attribute>,label (e.g. SOPInstanceUID,label)")
    }
    let keyName = header.fields[0].trimmingCharacters(in: .whitespaces)
    guard ScanLoader.isKnownAttribute(keyName) else {
      throw DatasetsError.invalidManifest(
        path: labelsCSV,
        cause:
          "unknown DICOM attribute '\(keyName)' in the first column; use a keyword such as SOPInstanceUID or GGGG,EEEE"
      )
    }
    var labelByKey: [String: (label: String, row: Int)] = [:]
    var bad: [BadRow] = []
    for r in records.dropFirst() {
      guard r.fields.count > labelColumn else {
        bad.append(
          BadRow(row: r.line, path: labelsCSV, reason: .malformed, detail: "missing label column"))
        continue
      }
      labelByKey[r.fields[0].trimmingCharacters(in: .whitespaces)] =
        (r.fields[labelColumn].trimmingCharacters(in: .whitespaces), r.line)
    }
    let fm = FileManager.default
    let files = (fm.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted().filter {
      let lower = $0.lowercased()
      var d: ObjCBool = false
      return !lower.hasSuffix(".csv") && !lower.hasSuffix(".json")
        && !ScanLoader.hasRasterExtension(lower)
        && !lower.hasSuffix(".yaml") && fm.fileExists(atPath: root + "/" + $0, isDirectory: &d)
        && !d.boolValue
    }
    var used = Set<String>()
    var candidates: [DatasetEntry] = []
    for (i, rel) in files.enumerated() {
      let path = root + "/" + rel
      let header: ScanLoader.Attributes
      do { header = try ScanLoader.attributes(path: path, names: [keyName]) } catch {
        if rel.lowercased().hasSuffix(".dcm") {
          bad.append(BadRow(row: i + 1, path: rel, reason: .undecodable, detail: "\(error)"))
        }
        continue  // not a DICOM file (e.g. a README): ignored
      }
      guard let key = header.values[keyName], let entry = labelByKey[key] else {
        bad.append(
          BadRow(
            row: i + 1, path: rel, reason: .unknownLabel,
            detail: "no row in \((labelsCSV as NSString).lastPathComponent) for its \(keyName)"))
        continue
      }
      used.insert(key)
      let patient = patientIdentity(header)
      candidates.append(
        DatasetEntry(
          path: path, key: rel, label: entry.label, patient: patient?.key,
          patientSource: patient?.source, row: i + 1))
    }
    for (key, entry) in labelByKey where !used.contains(key) {
      bad.append(
        BadRow(
          row: entry.row, path: (labelsCSV as NSString).lastPathComponent,
          reason: .missingFile, detail: "no DICOM file under the tree has this \(keyName)"))
    }
    bad.sort { $0.row < $1.row }
    return try finish(source: root, candidates: candidates, bad: bad, options: options)
  }

  /// Decodes the images at `indices` of `dataset` in parallel and returns, by index, a bad row
  /// (`undecodable`) for each that fails; for callers that decode later in an order where one
  /// failure would stop everything (`--on-bad skip`).
  public static func undecodable(_ dataset: Dataset, at indices: [Int]) -> [Int: BadRow] {
    var failures = [BadRow?](repeating: nil, count: indices.count)
    failures.withUnsafeMutableBufferPointer { out in
      let o = out
      DispatchQueue.concurrentPerform(iterations: indices.count) { k in
        let e = dataset.entries[indices[k]]
        do { _ = try ScanLoader.load(path: e.path) } catch {
          o[k] = BadRow(undecodable: e, error: error)
        }
      }
    }
    var out: [Int: BadRow] = [:]
    for (k, failure) in failures.enumerated() { if let failure { out[indices[k]] = failure } }
    return out
  }

  /// The patient key a file's header gives: its PatientID, else its StudyInstanceUID.
  static func patientIdentity(_ header: ScanLoader.Attributes)
    -> (key: String, source: PatientSource)?
  {
    if let hash = header.patientHash { return (patientKey(hash: hash), .patientID) }
    if let hash = header.studyHash { return (studyPatientKey(hash: hash), .studyInstanceUID) }
    return nil
  }

  // MARK: - Validation shared by all sources

  static func finish(
    source: String, candidates: [DatasetEntry], bad initialBad: [BadRow],
    options: DatasetLoadOptions
  ) throws -> Dataset {
    var bad = initialBad
    var entries: [DatasetEntry] = []
    var seenPaths: [String: Int] = [:]
    let allowed = options.labels.map(Set.init)
    let fm = FileManager.default
    for c in candidates {
      if c.label.isEmpty || (allowed.map { !$0.contains(c.label) } ?? false) {
        let known = options.labels.map { " (known: \($0.joined(separator: ", ")))" } ?? ""
        bad.append(
          BadRow(
            row: c.row, path: c.key, reason: .unknownLabel,
            detail: c.label.isEmpty
              ? "empty label" : "label '\(c.label)' is not a known class\(known)"))
        continue
      }
      if let first = seenPaths[c.path] {
        bad.append(
          BadRow(
            row: c.row, path: c.key, reason: .duplicatePath, detail: "same file as row \(first)"))
        continue
      }
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: c.path, isDirectory: &isDir), !isDir.boolValue else {
        bad.append(
          BadRow(row: c.row, path: c.key, reason: .missingFile, detail: "file does not exist"))
        continue
      }
      seenPaths[c.path] = c.row
      entries.append(c)
    }
    // Header-derived patients and domains, and optional decoding, in parallel. Headers are read
    // without pixel data; PNG and JPEG files have none (their patient stays unknown).
    let domainBy = options.domainBy
    let validate = options.validateImages
    let needsHeader = entries.map {
      !domainBy.isEmpty || ($0.patient == nil && !ScanLoader.hasRasterExtension($0.path))
    }
    if validate || needsHeader.contains(true) {
      var results = [Result<DatasetEntry, Error>?](repeating: nil, count: entries.count)
      results.withUnsafeMutableBufferPointer { out in
        let o = out
        DispatchQueue.concurrentPerform(iterations: entries.count) { i in
          var e = entries[i]
          do {
            if validate { _ = try ScanLoader.load(path: e.path) }
            if needsHeader[i] {
              let header = try ScanLoader.attributes(path: e.path, names: domainBy)
              if !domainBy.isEmpty {
                e.domain = domainBy.map { header.values[$0] ?? "?" }.joined(separator: " / ")
              }
              if e.patient == nil, let patient = patientIdentity(header) {
                e.patient = patient.key
                e.patientSource = patient.source
              }
            }
            o[i] = .success(e)
          } catch {
            o[i] = .failure(error)
          }
        }
      }
      var kept: [DatasetEntry] = []
      for (i, r) in results.enumerated() {
        switch r! {
        case .success(let e): kept.append(e)
        case .failure(let error):
          bad.append(BadRow(undecodable: entries[i], error: error))
        }
      }
      entries = kept
    }
    // A patient pinned to two hand-given splits (after the headers named the patients).
    var patientSplit: [String: (split: String, row: Int)] = [:]
    entries = entries.filter { e in
      guard let p = e.patient, let s = e.split else { return true }
      if let prior = patientSplit[p], prior.split != s {
        bad.append(
          BadRow(
            row: e.row, path: e.key, reason: .patientInTwoSplits,
            detail: "its patient is in split '\(prior.split)' at row \(prior.row) and '\(s)' here"))
        return false
      }
      patientSplit[p] = patientSplit[p] ?? (s, e.row)
      return true
    }
    bad.sort { $0.row < $1.row }
    if !bad.isEmpty && options.onBad == .fail {
      throw DatasetsError.badRows(path: source, rows: bad)
    }
    guard !entries.isEmpty else {
      throw DatasetsError.notFound(
        path: source, cause: "no usable images (all \(bad.count) rows are bad)")
    }
    let labels = options.labels ?? Array(Set(entries.map(\.label))).sorted()
    return Dataset(source: source, entries: entries, labels: labels, skipped: bad)
  }
}
