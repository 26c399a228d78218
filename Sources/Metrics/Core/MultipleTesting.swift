/// One hypothesis test in a family, before and after multiplicity correction.
public struct TestResult: Codable, Sendable, Equatable {
  /// What was tested ("MMD permutation", "KS intensity mean", …).
  public var name: String
  /// The unadjusted p-value.
  public var pValue: Double
  /// The Holm-adjusted p-value (family-wise error control).
  public var adjustedPValue: Double
  /// Whether the adjusted p-value is ≤ the family's α.
  public var rejected: Bool
}

/// Corrections for testing several hypotheses together.
public enum MultipleTesting {
  /// Holm's step-down adjusted p-values (Holm 1979), in the input order.
  ///
  /// Sort ascending p₍₁₎ ≤ … ≤ p₍m₎; adjusted p₍i₎ = max_{j ≤ i} min(1, (m − j + 1) p₍j₎).
  /// Rejecting adjusted p ≤ α controls the family-wise error rate at α under any dependence.
  public static func holm(_ pValues: [Double]) -> [Double] {
    let m = pValues.count
    let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
    var adjusted = [Double](repeating: 0, count: m)
    var running = 0.0
    for (rank, index) in order.enumerated() {
      running = max(running, min(1, Double(m - rank) * pValues[index]))
      adjusted[index] = running
    }
    return adjusted
  }

  /// Applies Holm to named p-values and marks which are rejected at `alpha`.
  public static func holm(named tests: [(name: String, pValue: Double)], alpha: Double = 0.05)
    -> [TestResult]
  {
    let adjusted = holm(tests.map(\.pValue))
    return zip(tests, adjusted).map { test, adj in
      TestResult(name: test.name, pValue: test.pValue, adjustedPValue: adj, rejected: adj <= alpha)
    }
  }
}
