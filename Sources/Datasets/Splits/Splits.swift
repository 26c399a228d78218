import Foundation
import Interchange
import Randomness

/// Split assignment for a dataset: stratified by domain and label, grouped by patient, seeded.
///
/// Saved next to a run (`splits.json`) so that evaluation, re-runs and reviewers see exactly
/// which image went where. Entries are identified by their manifest key (relative path).
public struct SplitAssignment: Codable, Equatable, Sendable {
  /// Split names and target fractions, in order (e.g. train 0.7, val 0.15, test 0.15).
  public var fractions: [NamedFraction]
  /// The seed that drew the assignment.
  public var seed: UInt64
  /// The method, for the record.
  public var method: String = "stratified-by-domain-and-label, grouped-by-patient"
  /// Split of every entry, by manifest key.
  public var splitOf: [String: String]

  /// A split name with its target fraction.
  public struct NamedFraction: Codable, Equatable, Sendable {
    public var name: String
    public var fraction: Double
    public init(name: String, fraction: Double) {
      self.name = name
      self.fraction = fraction
    }
  }

  /// Indices of `dataset.entries` in split `name`, in dataset order.
  public func indices(of name: String, in dataset: Dataset) -> [Int] {
    dataset.entries.indices.filter { splitOf[dataset.entries[$0].key] == name }
  }

  /// Writes the assignment as JSON (sorted keys, so the file is stable).
  public func save(to path: String) throws {
    let encoder = JSONCoding.encoder(.pretty)
    do { try encoder.encode(self).write(to: URL(fileURLWithPath: path)) } catch {
      throw DatasetsError.io(path: path, cause: error.localizedDescription)
    }
  }

  /// Reads an assignment written by `save`.
  public static func load(from path: String) throws -> SplitAssignment {
    do {
      return try JSONCoding.decoder().decode(
        SplitAssignment.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
      throw DatasetsError.invalidManifest(
        path: path, cause: "not a splits file (\(error.localizedDescription))")
    }
  }
}

/// Draws patient-grouped, label-stratified splits and nested label budgets.
public enum Splitter {
  /// Assigns every entry to a split.
  ///
  /// Entries with a hand-given `split` keep it (and pin their patient to it). The remaining
  /// patients are grouped by their majority (domain, label); within each group the patients
  /// are shuffled with `seed` and each goes to the split furthest below its target image count
  /// for that group. No patient ever spans two splits.
  public static func split(
    _ dataset: Dataset, fractions: [SplitAssignment.NamedFraction], seed: UInt64
  ) throws -> SplitAssignment {
    guard !fractions.isEmpty, fractions.allSatisfy({ $0.fraction >= 0 }),
      Set(fractions.map(\.name)).count == fractions.count
    else {
      throw DatasetsError.invalidSplit(cause: "fractions must be non-negative with distinct names")
    }
    let total = fractions.reduce(0) { $0 + $1.fraction }
    guard total > 0 else { throw DatasetsError.invalidSplit(cause: "fractions sum to zero") }
    var splitOf: [String: String] = [:]
    // Hand-given splits pin their patients.
    var pinned: [String: String] = [:]
    for e in dataset.entries {
      if let s = e.split { pinned[e.group] = s }
    }
    // Groups (patients) not pinned, with their images and majority label.
    var groups: [String: [DatasetEntry]] = [:]
    for e in dataset.entries {
      if let s = pinned[e.group] {
        splitOf[e.key] = s
      } else {
        groups[e.group, default: []].append(e)
      }
    }
    // Strata: (domain, majority label). Stratifying by label alone let one site's test split
    // end up with 3 images of a class when the study then filtered to that site.
    var byStratum: [String: [(key: String, entries: [DatasetEntry])]] = [:]
    for (key, entries) in groups {
      let label = majority(entries.map(\.label))
      let domains = entries.compactMap(\.domain)
      let stratum = domains.isEmpty ? label : majority(domains) + "/" + label
      byStratum[stratum, default: []].append((key, entries))
    }
    // Ties between splits (every split of a fresh stratum is 100 % short) go to the split
    // furthest below its target over all images assigned so far, so strata of one patient
    // spread over the splits instead of all landing in the first.
    let allImages = Double(
      byStratum.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.entries.count } })
    var assignedOverall = [Double](repeating: 0, count: fractions.count)
    for stratum in byStratum.keys.sorted() {
      var list = byStratum[stratum]!.sorted { $0.key < $1.key }
      var rng = SeededGenerator(seed: seed, name: "split:" + stratum)
      rng.shuffle(&list)
      let images = Double(list.reduce(0) { $0 + $1.entries.count })
      var assigned = [Double](repeating: 0, count: fractions.count)
      for group in list {
        // The split with the largest relative deficit in this stratum takes the patient.
        var best = 0
        var bestDeficit = (-Double.infinity, -Double.infinity)
        for (k, f) in fractions.enumerated() where f.fraction > 0 {
          let target = images * f.fraction / total
          let overall = allImages * f.fraction / total
          let deficit = (
            (target - assigned[k]) / max(target, 1e-9),
            (overall - assignedOverall[k]) / max(overall, 1e-9)
          )
          if deficit.0 > bestDeficit.0 + 1e-12
            || (abs(deficit.0 - bestDeficit.0) <= 1e-12 && deficit.1 > bestDeficit.1)
          {
            bestDeficit = deficit
            best = k
          }
        }
        assigned[best] += Double(group.entries.count)
        assignedOverall[best] += Double(group.entries.count)
        for e in group.entries { splitOf[e.key] = fractions[best].name }
      }
    }
    return SplitAssignment(fractions: fractions, seed: seed, splitOf: splitOf)
  }

  /// The most frequent value (ties: the alphabetically first).
  static func majority(_ values: [String]) -> String {
    var counts: [String: Int] = [:]
    for v in values { counts[v, default: 0] += 1 }
    return counts.max { a, b in a.value < b.value || (a.value == b.value && a.key > b.key) }!.key
  }

  /// Parses "train=0.7,val=0.15,test=0.15".
  public static func parseFractions(_ text: String) throws -> [SplitAssignment.NamedFraction] {
    try text.split(separator: ",").map { part in
      let kv = part.split(separator: "=")
      guard kv.count == 2, let f = Double(kv[1].trimmingCharacters(in: .whitespaces)) else {
        throw DatasetsError.invalidSplit(
          cause: "'\(part)' is not name=fraction (e.g. train=0.7,val=0.15,test=0.15)")
      }
      return .init(name: kv[0].trimmingCharacters(in: .whitespaces), fraction: f)
    }
  }
}

/// How many labelled images to use per class: the one label budget of MedTransfer (the CLI's
/// `--budget`, a study's `budgets` and the store's `budget` column).
///
/// JSON: a per-class budget is its number, `all` the string "all", a fraction the string
/// "N%". Run hashes cover this encoding, so it must not change.
public enum LabelBudget: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
  /// N images per class (all if a class has fewer).
  case perClass(Int)
  /// A fraction of each class (at least one image).
  case fraction(Double)
  /// Every image.
  case all

  /// "25", "10%" or "all" (a study's tables add "/class" where they need it).
  public var description: String {
    switch self {
    case .perClass(let n): return String(n)
    case .fraction(let f): return "\(f * 100)%"
    case .all: return "all"
    }
  }

  /// Labels per class, nil for a fraction or `all`.
  public var count: Int? {
    if case .perClass(let n) = self { return n }
    return nil
  }

  /// Per-class budgets by size, then fractions by size, then `all`.
  public static func < (a: LabelBudget, b: LabelBudget) -> Bool {
    func rank(_ x: LabelBudget) -> (Int, Double) {
      switch x {
      case .perClass(let n): return (0, Double(n))
      case .fraction(let f): return (1, f)
      case .all: return (2, 0)
      }
    }
    return rank(a) < rank(b)
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let n = try? container.decode(Int.self) {
      self = .perClass(n)
      return
    }
    let text = try container.decode(String.self)
    if text == "all" {
      self = .all
    } else if text.hasSuffix("%"), let p = Double(text.dropLast()), p > 0, p <= 100 {
      self = .fraction(p / 100)
    } else {
      throw DecodingError.dataCorruptedError(
        in: container,
        debugDescription: "a label budget is a positive integer, \"N%\" or \"all\"")
    }
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .perClass(let n): try container.encode(n)
    case .fraction: try container.encode(description)
    case .all: try container.encode("all")
    }
  }

  /// Selects a budget subset of `indices` (into `dataset.entries`), nested across budgets:
  /// with the same seed, the subset for a smaller budget is contained in the one for a larger.
  ///
  /// Per class, patients are shuffled with `seed` and images taken round-robin across patients
  /// (one image of each patient before a second of any), so small budgets cover many patients.
  /// The order never depends on the budget; a budget takes a prefix of it. Indices in
  /// `excluded` (images found undecodable) are passed over in that order, so the next image
  /// takes their place and budgets stay nested.
  public func select(
    from indices: [Int], in dataset: Dataset, seed: UInt64, excluding excluded: Set<Int> = []
  ) -> [Int] {
    var byLabel: [String: [Int]] = [:]
    for i in indices { byLabel[dataset.entries[i].label, default: []].append(i) }
    var chosen: [Int] = []
    for label in byLabel.keys.sorted() {
      let order = LabelBudget.order(byLabel[label]!, in: dataset, seed: seed, label: label)
        .filter { !excluded.contains($0) }
      let n: Int
      switch self {
      case .perClass(let k): n = min(max(k, 0), order.count)
      case .fraction(let f): n = min(max(Int((f * Double(order.count)).rounded()), 1), order.count)
      case .all: n = order.count
      }
      chosen.append(contentsOf: order.prefix(n))
    }
    return chosen.sorted()
  }

  static func order(_ indices: [Int], in dataset: Dataset, seed: UInt64, label: String) -> [Int] {
    var byPatient: [String: [Int]] = [:]
    for i in indices { byPatient[dataset.entries[i].group, default: []].append(i) }
    var rng = SeededGenerator(seed: seed, name: "budget:" + label)
    var patients = byPatient.keys.sorted()
    rng.shuffle(&patients)
    var lists = patients.map { p -> [Int] in
      var l = byPatient[p]!.sorted { dataset.entries[$0].key < dataset.entries[$1].key }
      rng.shuffle(&l)
      return l
    }
    var order: [Int] = []
    var round = 0
    while order.count < indices.count {
      for k in lists.indices where round < lists[k].count { order.append(lists[k][round]) }
      round += 1
    }
    lists.removeAll()
    return order
  }

  /// Parses "50" (per class), "10%" or "0.1" (fraction) or "all".
  public static func parse(_ text: String) throws -> LabelBudget {
    let t = text.trimmingCharacters(in: .whitespaces)
    if t == "all" { return .all }
    if t.hasSuffix("%"), let p = Double(t.dropLast()), p > 0, p <= 100 { return .fraction(p / 100) }
    if let n = Int(t), n > 0 { return .perClass(n) }
    if let f = Double(t), f > 0, f <= 1 { return .fraction(f) }
    throw DatasetsError.invalidSplit(
      cause: "budget '\(text)' is not N, N%, a fraction in (0,1] or 'all'")
  }
}
