/// Class-prior shift between two labelled samples.
public struct LabelShiftResult: Codable, Sendable, Equatable {
  /// Number of classes.
  public var classCount: Int
  /// Source counts per class.
  public var sourceCounts: [Int]
  /// Target counts per class.
  public var targetCounts: [Int]
  /// Total variation ½ Σ |p_S(c) − p_T(c)| of the class priors, with a bootstrap interval.
  public var totalVariation: Estimate
}

/// Class-prior (label) shift.
public enum LabelShift {
  /// Compares the class priors of `source` and `target` labels in `0..<classCount`.
  public static func compare(
    source: [Int], target: [Int], classCount: Int, bootstrap: Bootstrap.Plan = .init()
  ) throws -> LabelShiftResult {
    guard !source.isEmpty else {
      throw MetricsError.tooFewSamples(input: "source labels", count: 0, minimum: 1)
    }
    guard !target.isEmpty else {
      throw MetricsError.tooFewSamples(input: "target labels", count: 0, minimum: 1)
    }
    for (name, labels) in [("source labels", source), ("target labels", target)] {
      if let bad = labels.first(where: { $0 < 0 || $0 >= classCount }) {
        throw MetricsError.labelOutOfRange(input: name, label: bad, classCount: classCount)
      }
    }
    func counts(_ labels: [Int], _ indices: [Int]) -> [Int] {
      var c = [Int](repeating: 0, count: classCount)
      for i in indices { c[labels[i]] += 1 }
      return c
    }
    func tv(_ a: [Int], _ b: [Int]) -> Double {
      let na = Double(a.reduce(0, +))
      let nb = Double(b.reduce(0, +))
      var s = 0.0
      for c in 0..<classCount { s += abs(Double(a[c]) / na - Double(b[c]) / nb) }
      return s / 2
    }
    let estimate = Bootstrap.estimate(counts: source.count, target.count, plan: bootstrap) { i, j in
      tv(counts(source, i), counts(target, j))
    }
    return LabelShiftResult(
      classCount: classCount, sourceCounts: counts(source, Array(source.indices)),
      targetCounts: counts(target, Array(target.indices)), totalVariation: estimate)
  }
}
