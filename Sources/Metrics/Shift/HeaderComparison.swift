/// One acquisition attribute (manufacturer, kVp, …) across domains.
public struct HeaderAttributeComparison: Codable, Sendable, Equatable {
  /// Attribute name as it appears in the header rows.
  public var attribute: String
  /// Per domain (in input order): value → number of rows. Rows lacking the attribute count
  /// under `HeaderComparison.missingValue`.
  public var valueCounts: [[String: Int]]
  /// Whether the sets of observed values differ between any two domains.
  public var differs: Bool
  /// Largest total variation between two domains' value distributions (0 = same mix).
  public var totalVariation: Double
}

/// Per-domain table of acquisition attributes and which of them differ.
public struct HeaderComparison: Codable, Sendable, Equatable {
  /// The placeholder counted when a row lacks an attribute.
  public static let missingValue = "(missing)"

  /// Domain names, in input order.
  public var domains: [String]
  /// One entry per attribute, sorted by name.
  public var attributes: [HeaderAttributeComparison]
  /// Names of the attributes whose value sets differ.
  public var differing: [String]

  /// Tabulates `rows` (one `[attribute: value]` dictionary per image or series) per domain.
  ///
  /// - Parameter attributes: the attributes to compare; nil compares every key seen.
  public init(domains: [(name: String, rows: [[String: String]])], attributes: [String]? = nil) {
    self.domains = domains.map(\.name)
    let keys = attributes ?? Array(Set(domains.flatMap { $0.rows.flatMap(\.keys) })).sorted()
    var table = [HeaderAttributeComparison]()
    for key in keys.sorted() {
      let counts = domains.map { domain -> [String: Int] in
        var c = [String: Int]()
        for row in domain.rows { c[row[key] ?? Self.missingValue, default: 0] += 1 }
        return c
      }
      let sets = counts.map { Set($0.keys) }
      let differs = sets.dropFirst().contains { $0 != sets[0] }
      var tv = 0.0
      for a in counts.indices {
        for b in counts.indices where b > a {
          let na = Double(counts[a].values.reduce(0, +))
          let nb = Double(counts[b].values.reduce(0, +))
          guard na > 0, nb > 0 else { continue }
          var s = 0.0
          for value in sets[a].union(sets[b]) {
            s += abs(Double(counts[a][value] ?? 0) / na - Double(counts[b][value] ?? 0) / nb)
          }
          tv = max(tv, s / 2)
        }
      }
      table.append(
        HeaderAttributeComparison(
          attribute: key, valueCounts: counts, differs: differs, totalVariation: tv))
    }
    self.attributes = table
    differing = table.filter(\.differs).map(\.attribute)
  }
}
