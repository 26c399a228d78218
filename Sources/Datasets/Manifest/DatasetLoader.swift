import Dispatch
import Foundation

/// Loads datasets from a manifest CSV, an ImageFolder tree or a DICOM tree with a labels CSV,
/// validating every row.
///
/// Manifest CSV: a header with at least `path,label`, optionally `domain`, `patient`, `split`
/// (other columns are ignored); paths are relative to the CSV's folder. A folder holding a
/// `manifest.csv` is read as that manifest; otherwise a folder is an ImageFolder tree
/// (`root/<label>/**/*.{dcm,png,jpg}`), or, with `labelsCSV`, a DICOM tree.
public enum DatasetLoader {
  /// Loads `source` (a CSV file or a folder).
  public static func load(_ source: String, options: DatasetLoadOptions = .init()) throws -> Dataset {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: source, isDirectory: &isDir) else {
      throw DatasetsError.notFound(path: source, cause: "no such file or folder; check the path")
    }
    if isDir.boolValue {
      if let labels = options.labelsCSV { return try loadDicomTree(source, labelsCSV: labels, options: options) }
      let manifest = (source as NSString).appendingPathComponent("manifest.csv")
      if FileManager.default.fileExists(atPath: manifest) { return try loadManifest(manifest, options: options) }
      return try loadImageFolder(source, options: options)
    }
    return try loadManifest(source, options: options)
  }

  // MARK: - Manifest CSV

  /// Loads a manifest CSV.
  public static func loadManifest(_ path: String, options: DatasetLoadOptions = .init()) throws -> Dataset {
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw DatasetsError.invalidManifest(path: path, cause: "cannot read it as UTF-8 text")
    }
    let records = CSV.parse(text)
    guard let header = records.first else {
      throw DatasetsError.invalidManifest(path: path, cause: "the file is empty; it needs a header row path,label")
    }
    let columns = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    guard let pathColumn = columns.firstIndex(of: "path"),
      let labelColumn = columns.firstIndex(of: "label")
    else {
      throw DatasetsError.invalidManifest(
        path: path, cause: "the header must name columns 'path' and 'label' (got \(columns.joined(separator: ",")))")
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
      guard record.fields.count >= max(pathColumn, labelColumn) + 1, let rel = field(pathColumn) else {
        bad.append(BadRow(row: record.line, path: field(pathColumn) ?? "", reason: .malformed,
                          detail: "expected \(columns.count) columns with a path"))
        continue
      }
      let resolved = rel.hasPrefix("/") ? rel : (base as NSString).appendingPathComponent(rel)
      candidates.append(
        DatasetEntry(
          path: (resolved as NSString).standardizingPath, key: rel, label: field(labelColumn) ?? "",
          domain: field(domainColumn), patient: field(patientColumn).map { patientKey($0) },
          split: field(splitColumn), row: record.line))
    }
    return try finish(source: path, candidates: candidates, bad: bad, options: options)
  }

  // MARK: - ImageFolder

  /// Loads `root/<label>/**/*.{dcm,png,jpg,jpeg}`; the label is the first folder level.
  public static func loadImageFolder(_ root: String, options: DatasetLoadOptions = .init()) throws -> Dataset {
    let fm = FileManager.default
    let labelDirs = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted().filter {
      var d: ObjCBool = false
      return !$0.hasPrefix(".") && fm.fileExists(atPath: root + "/" + $0, isDirectory: &d) && d.boolValue
    }
    var candidates: [DatasetEntry] = []
    for label in labelDirs {
      let files = (fm.enumerator(atPath: root + "/" + label)?.allObjects as? [String] ?? []).sorted()
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
  /// named in its first column (e.g. `SOPInstanceUID`). The patient comes from PatientID.
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
        path: labelsCSV, cause: "the header must be <DICOM attribute>,label (e.g. SOPInstanceUID,label)")
    }
    let keyName = header.fields[0].trimmingCharacters(in: .whitespaces)
    guard ScanLoader.isKnownAttribute(keyName) else {
      throw DatasetsError.invalidManifest(
        path: labelsCSV, cause: "unknown DICOM attribute '\(keyName)' in the first column; use a keyword such as SOPInstanceUID or GGGG,EEEE")
    }
    var labelByKey: [String: (label: String, row: Int)] = [:]
    var bad: [BadRow] = []
    for r in records.dropFirst() {
      guard r.fields.count > labelColumn else {
        bad.append(BadRow(row: r.line, path: labelsCSV, reason: .malformed, detail: "missing label column"))
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
      let attrs: [String: String]
      let patient: String?
      do { (attrs, patient) = try ScanLoader.attributes(path: path, names: [keyName]) } catch {
        if rel.lowercased().hasSuffix(".dcm") {
          bad.append(BadRow(row: i + 1, path: rel, reason: .undecodable, detail: "\(error)"))
        }
        continue  // not a DICOM file (e.g. a README): ignored
      }
      guard let key = attrs[keyName], let entry = labelByKey[key] else {
        bad.append(BadRow(row: i + 1, path: rel, reason: .unknownLabel,
                          detail: "no row in \((labelsCSV as NSString).lastPathComponent) for its \(keyName)"))
        continue
      }
      used.insert(key)
      candidates.append(
        DatasetEntry(path: path, key: rel, label: entry.label,
                     patient: patient.map { patientKey(hash: $0) }, row: i + 1))
    }
    for (key, entry) in labelByKey where !used.contains(key) {
      bad.append(BadRow(row: entry.row, path: (labelsCSV as NSString).lastPathComponent,
                        reason: .missingFile, detail: "no DICOM file under the tree has this \(keyName)"))
    }
    bad.sort { $0.row < $1.row }
    return try finish(source: root, candidates: candidates, bad: bad, options: options)
  }

  // MARK: - Validation shared by all sources

  static func finish(
    source: String, candidates: [DatasetEntry], bad initialBad: [BadRow], options: DatasetLoadOptions
  ) throws -> Dataset {
    var bad = initialBad
    var entries: [DatasetEntry] = []
    var seenPaths: [String: Int] = [:]
    var patientSplit: [String: (split: String, row: Int)] = [:]
    let allowed = options.labels.map(Set.init)
    let fm = FileManager.default
    for c in candidates {
      if c.label.isEmpty || (allowed.map { !$0.contains(c.label) } ?? false) {
        let known = options.labels.map { " (known: \($0.joined(separator: ", ")))" } ?? ""
        bad.append(BadRow(row: c.row, path: c.key, reason: .unknownLabel,
                          detail: c.label.isEmpty ? "empty label" : "label '\(c.label)' is not a known class\(known)"))
        continue
      }
      if let first = seenPaths[c.path] {
        bad.append(BadRow(row: c.row, path: c.key, reason: .duplicatePath, detail: "same file as row \(first)"))
        continue
      }
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: c.path, isDirectory: &isDir), !isDir.boolValue else {
        bad.append(BadRow(row: c.row, path: c.key, reason: .missingFile, detail: "file does not exist"))
        continue
      }
      if let p = c.patient, let s = c.split {
        if let prior = patientSplit[p], prior.split != s {
          bad.append(BadRow(row: c.row, path: c.key, reason: .patientInTwoSplits,
                            detail: "its patient is in split '\(prior.split)' at row \(prior.row) and '\(s)' here"))
          continue
        }
        patientSplit[p] = patientSplit[p] ?? (s, c.row)
      }
      seenPaths[c.path] = c.row
      entries.append(c)
    }
    // Optional decoding and header-derived domains, in parallel.
    if options.validateImages || !options.domainBy.isEmpty {
      var results = [Result<String?, Error>](repeating: .success(nil), count: entries.count)
      let domainBy = options.domainBy
      let validate = options.validateImages
      results.withUnsafeMutableBufferPointer { out in
        let o = out
        DispatchQueue.concurrentPerform(iterations: entries.count) { i in
          do {
            if validate { _ = try ScanLoader.load(path: entries[i].path) }
            if domainBy.isEmpty { o[i] = .success(nil); return }
            let attrs = try ScanLoader.attributes(path: entries[i].path, names: domainBy).values
            o[i] = .success(domainBy.map { attrs[$0] ?? "?" }.joined(separator: " / "))
          } catch {
            o[i] = .failure(error)
          }
        }
      }
      var kept: [DatasetEntry] = []
      for (i, r) in results.enumerated() {
        switch r {
        case .success(let domain):
          var e = entries[i]
          if !domainBy.isEmpty { e.domain = domain }
          kept.append(e)
        case .failure(let error):
          bad.append(BadRow(row: entries[i].row, path: entries[i].key, reason: .undecodable,
                            detail: "\(error)"))
        }
      }
      entries = kept
    }
    bad.sort { $0.row < $1.row }
    if !bad.isEmpty && options.onBad == .fail {
      throw DatasetsError.badRows(path: source, rows: bad)
    }
    guard !entries.isEmpty else {
      throw DatasetsError.notFound(path: source, cause: "no usable images (all \(bad.count) rows are bad)")
    }
    let labels = options.labels ?? Array(Set(entries.map(\.label))).sorted()
    return Dataset(source: source, entries: entries, labels: labels, skipped: bad)
  }
}
