import Foundation

/// Runs `baseline:majority-class` arms: no network; every image is predicted as the most
/// frequent class of the budget-limited target training set (ties: the first class name in
/// sorted order), with that class's training prior as the confidence.
///
/// It is the chance-level reference a learning-curve plot needs, and it lets a study be run
/// end to end without training. It reads manifest CSVs (`path,label[,domain][,patient][,split]`):
/// rows with `split` = `train` are counted, rows with `split` = `test` are evaluated; without a
/// `split` column all rows are used for both. A `domain` in the spec keeps only that domain's
/// rows. Generator datasets need the Datasets integration (they are rendered to a manifest
/// first). Seeds have no effect: the prediction is deterministic.
public struct BaselineExecutor: RunExecutor {
  /// Maps a dataset of the spec to its manifest CSV. The default accepts manifest datasets only;
  /// the Datasets integration passes one that renders generator datasets (cached) first.
  public typealias ManifestResolver = @Sendable (DatasetRef, StudyContext) throws -> URL

  private let resolver: ManifestResolver

  public init(manifestResolver: ManifestResolver? = nil) {
    self.resolver = manifestResolver ?? BaselineExecutor.manifestOnly
  }

  public func canExecute(_ arm: ArmSpec) -> Bool { arm.isBaseline }

  public func prepare(_ spec: StudySpec, context: StudyContext) throws -> StudyPreparation {
    var hashes: [String: String] = [:]
    for ref in [spec.source] + spec.targets {
      let url = try manifestURL(ref, context: context)
      do {
        hashes[ref.key] = try sha256Hex(ofFile: url)
      } catch {
        throw StudiesError.manifest(path: url.path, row: nil, reason: "cannot read (\(error))")
      }
    }
    return StudyPreparation(datasetHashes: hashes)
  }

  public func execute(_ run: RunConfig, context: RunContext) throws -> RunResult {
    let start = Date()
    let target = try ManifestTable.load(try manifestURL(run.target, context: context.study))
      .rows(domain: run.target.site)
    let source = try ManifestTable.load(try manifestURL(run.source, context: context.study))
      .rows(domain: run.source.site)
    let loaded = Date().timeIntervalSince(start)

    let hasSplit = target.contains { $0.split != nil }
    let train = hasSplit ? target.filter { $0.split == "train" } : target
    var available: [String: Int] = [:]
    for row in train { available[row.label, default: 0] += 1 }
    guard !available.isEmpty else {
      throw StudiesError.manifest(
        path: run.target.path, row: nil,
        reason: "no training rows for \(run.target.label) (need split=train rows or no split column)")
    }
    var counts: [String: Int] = [:]
    for (label, n) in available { counts[label] = min(n, run.budget.count ?? n) }
    let classes = counts.keys.sorted()
    let majority = classes.max { a, b in
      counts[a]! != counts[b]! ? counts[a]! < counts[b]! : a > b
    }!
    let trainImages = counts.values.reduce(0, +)
    let prior = Double(counts[majority]!) / Double(trainImages)

    let targetTest = hasSplit ? target.filter { $0.split == "test" } : target
    let targetMetrics = try evaluate(
      targetTest, predicted: majority, confidence: prior, trainClasses: classes,
      dataset: run.target)
    var sourceMetrics: EvaluationMetrics?
    let sourceHasSplit = source.contains { $0.split != nil }
    let sourceTest = sourceHasSplit ? source.filter { $0.split == "test" } : source
    if run.source.key != run.target.key, !sourceTest.isEmpty {
      sourceMetrics = try evaluate(
        sourceTest, predicted: majority, confidence: prior, trainClasses: classes,
        dataset: run.source)
    }
    let wall = Date().timeIntervalSince(start)
    return RunResult(
      target: targetMetrics, source: sourceMetrics, epochs: [],
      timings: [TimingRecord(phase: "read-manifests", seconds: loaded),
                TimingRecord(phase: "evaluate", seconds: wall - loaded)],
      wallSeconds: wall, trainImages: trainImages,
      notes: ["predicted_class": majority, "prior": String(format: "%.4f", prior)])
  }

  /// Metrics of a constant prediction, in closed form.
  private func evaluate(
    _ rows: [ManifestTable.Row], predicted: String, confidence: Double, trainClasses: [String],
    dataset: DatasetRef
  ) throws -> EvaluationMetrics {
    guard !rows.isEmpty else {
      throw StudiesError.manifest(
        path: dataset.path, row: nil, reason: "no test rows for \(dataset.label)")
    }
    let classes = Set(trainClasses + rows.map(\.label)).sorted()
    let n = rows.count
    var support: [String: Int] = [:]
    for row in rows { support[row.label, default: 0] += 1 }
    let present = classes.filter { (support[$0] ?? 0) > 0 }
    let hits = support[predicted] ?? 0
    let accuracy = Double(hits) / Double(n)
    // Recall is 1 for the predicted class and 0 for every other present class.
    let balanced = hits > 0 ? 1 / Double(present.count) : 0
    // F1 of the predicted class: precision = accuracy, recall = 1; 0 for the others.
    let f1 = hits > 0 ? 2 * accuracy / (accuracy + 1) : 0
    let macroF1 = f1 / Double(present.count)
    let confusion = classes.map { truth in
      classes.map { guess in guess == predicted ? (support[truth] ?? 0) : 0 }
    }
    var subgroups: [SubgroupMetric] = []
    let domains = Set(rows.compactMap(\.domain)).sorted()
    if domains.count > 1 {
      for domain in domains {
        let sub = rows.filter { $0.domain == domain }
        let subHits = sub.filter { $0.label == predicted }.count
        subgroups.append(
          SubgroupMetric(
            attribute: "domain", value: domain, count: sub.count,
            accuracy: Double(subHits) / Double(sub.count)))
      }
    }
    return EvaluationMetrics(
      count: n, accuracy: accuracy, balancedAccuracy: balanced, macroF1: macroF1,
      // Constant scores rank every pair as a tie: AUROC is exactly 0.5.
      auroc: present.count > 1 ? Estimate(0.5, lower: 0.5, upper: 0.5) : nil,
      ece: abs(confidence - accuracy),
      reliability: [
        ReliabilityBin(
          lower: floor(confidence * 15) / 15, upper: min(1, (floor(confidence * 15) + 1) / 15),
          count: n, meanConfidence: confidence, accuracy: accuracy)
      ],
      subgroups: subgroups, classNames: classes, confusion: confusion)
  }

  private func manifestURL(_ ref: DatasetRef, context: StudyContext) throws -> URL {
    try resolver(ref, context)
  }

  /// The default resolver: manifest datasets resolve against the spec's folder.
  public static let manifestOnly: ManifestResolver = { ref, context in
    guard ref.kind == .manifest else {
      throw StudiesError.manifest(
        path: ref.path, row: nil,
        reason: "the majority-class baseline reads manifests; generator datasets need the "
          + "Datasets integration (render them with `medtransfer dataset generate` and name "
          + "the manifest)")
    }
    return context.resolve(ref.path)
  }
}

/// The columns of a manifest CSV the baseline needs (no pixel data is read).
struct ManifestTable {
  struct Row {
    var label: String
    var domain: String?
    var split: String?
  }
  var path: String
  var all: [Row]

  func rows(domain: String?) -> [Row] {
    guard let domain else { return all }
    return all.filter { $0.domain == domain }
  }

  static func load(_ url: URL) throws -> ManifestTable {
    let text: String
    do {
      text = try String(contentsOf: url, encoding: .utf8)
    } catch {
      throw StudiesError.manifest(path: url.path, row: nil, reason: "cannot read (\(error))")
    }
    let records = parseCSV(text)
    guard let header = records.first?.map({ $0.lowercased() }) else {
      throw StudiesError.manifest(path: url.path, row: nil, reason: "empty manifest")
    }
    guard let labelIndex = header.firstIndex(of: "label") else {
      throw StudiesError.manifest(
        path: url.path, row: 1, reason: "no 'label' column (header: path,label[,domain][,patient][,split])")
    }
    let domainIndex = header.firstIndex(of: "domain")
    let splitIndex = header.firstIndex(of: "split")
    var rows: [Row] = []
    for (i, record) in records.dropFirst().enumerated() {
      if record.count == 1 && record[0].isEmpty { continue }
      guard record.count == header.count else {
        throw StudiesError.manifest(
          path: url.path, row: i + 2,
          reason: "\(record.count) fields, the header has \(header.count)")
      }
      let label = record[labelIndex]
      guard !label.isEmpty else {
        throw StudiesError.manifest(path: url.path, row: i + 2, reason: "empty label")
      }
      let split = splitIndex.map { record[$0].lowercased() }
      if let split, !["train", "val", "test", ""].contains(split) {
        throw StudiesError.manifest(
          path: url.path, row: i + 2, reason: "split '\(split)' is not train, val or test")
      }
      rows.append(
        Row(
          label: label, domain: domainIndex.map { record[$0] },
          split: split?.isEmpty == true ? nil : split))
    }
    return ManifestTable(path: url.path, all: rows)
  }

  /// RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF.
  static func parseCSV(_ text: String) -> [[String]] {
    var records: [[String]] = []
    var record: [String] = []
    var field = ""
    var inQuotes = false
    var iterator = text.unicodeScalars.makeIterator()
    var pending: Unicode.Scalar? = iterator.next()
    while let c = pending {
      pending = iterator.next()
      if inQuotes {
        if c == "\"" {
          if pending == "\"" {
            field.unicodeScalars.append("\"")
            pending = iterator.next()
          } else {
            inQuotes = false
          }
        } else {
          field.unicodeScalars.append(c)
        }
      } else {
        switch c {
        case "\"": inQuotes = true
        case ",": record.append(field); field = ""
        case "\r": break
        case "\n": record.append(field); records.append(record); record = []; field = ""
        default: field.unicodeScalars.append(c)
        }
      }
    }
    if !field.isEmpty || !record.isEmpty {
      record.append(field)
      records.append(record)
    }
    return records
  }
}
