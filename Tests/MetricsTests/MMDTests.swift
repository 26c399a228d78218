import Metrics
import Randomness
import TestSupport
import XCTest

final class MMDTests: XCTestCase {
  /// The unbiased statistic against a naive double loop with the same bandwidth.
  func testUnbiasedMMDMatchesNaiveLoop() throws {
    var g = SeededGenerator(seed: 11)
    let x = gaussianMatrix(rows: 13, columns: 4, generator: &g)
    let y = gaussianMatrix(rows: 9, columns: 4, mean: 0.7, generator: &g)
    let sigma = 1.7
    func k(_ a: [Float], _ b: [Float]) -> Double {
      var s = 0.0
      for i in a.indices { s += Double(a[i] - b[i]) * Double(a[i] - b[i]) }
      return exp(-s / (2 * sigma * sigma))
    }
    var sxx = 0.0
    var syy = 0.0
    var sxy = 0.0
    for i in 0..<13 { for j in 0..<13 where i != j { sxx += k(x.row(i), x.row(j)) } }
    for i in 0..<9 { for j in 0..<9 where i != j { syy += k(y.row(i), y.row(j)) } }
    for i in 0..<13 { for j in 0..<9 { sxy += k(x.row(i), y.row(j)) } }
    let naive = sxx / (13 * 12) + syy / (9 * 8) - 2 * sxy / (13 * 9)
    let fast = try MMD.unbiasedMMD2(source: x, target: y, bandwidth: sigma)
    XCTAssertEqual(fast, naive, accuracy: 1e-6)
    let test = try MMD.test(
      source: x, target: y,
      options: .init(permutations: 0, bandwidth: sigma, bootstrap: .init(replicates: 0)))
    XCTAssertEqual(test.mmd2, naive, accuracy: 1e-6)
    XCTAssertEqual(test.pValue, 1)
  }

  /// MMD² of a sample with itself is ≤ 0 and within 2/n of 0 (see the U-statistic algebra in
  /// MMD.swift: with X = Y, MMD²ᵤ = 2Sxx/(n²(n−1)) − 2/n ∈ [−2/n, 0]).
  func testIdenticalSamplesGiveZero() throws {
    var g = SeededGenerator(seed: 5)
    let x = gaussianMatrix(rows: 200, columns: 6, generator: &g)
    let r = try MMD.test(source: x, target: x, options: .init(permutations: 200))
    XCTAssertLessThanOrEqual(r.mmd2, 1e-12)
    XCTAssertGreaterThanOrEqual(r.mmd2, -2.0 / 200)
    XCTAssertGreaterThan(r.pValue, 0.5)
    XCTAssertEqual(r.permutations, 200)
    print("MMD identical samples: \(r.mmd2), p = \(r.pValue), sigma = \(r.bandwidth)")
  }

  /// Null calibration: 400 repetitions of n = m = 25 from one 3-D Gaussian, B = 99
  /// permutations each (small to keep the test at seconds; with (1 + #)/(1 + B) the test is
  /// valid for any B). Rejection rate at α = 0.05 must be in [0.02, 0.08].
  func testPermutationTestIsCalibratedUnderTheNull() throws {
    var g = SeededGenerator(seed: 2026)
    var rejections = 0
    let repetitions = 400
    for rep in 0..<repetitions {
      let x = gaussianMatrix(rows: 25, columns: 3, generator: &g)
      let y = gaussianMatrix(rows: 25, columns: 3, generator: &g)
      let r = try MMD.test(
        source: x, target: y,
        options: .init(permutations: 99, seed: UInt64(rep), bootstrap: .init(replicates: 0)))
      if r.pValue <= 0.05 { rejections += 1 }
    }
    let rate = Double(rejections) / Double(repetitions)
    print("MMD null rejection rate at 0.05: \(rate) over \(repetitions) repetitions (B = 99)")
    XCTAssertGreaterThanOrEqual(rate, 0.02)
    XCTAssertLessThanOrEqual(rate, 0.08)
  }

  /// Power: a 0.8σ mean shift in one of 3 dimensions at n = m = 40 is detected about 4 times
  /// in 5 (0.818 over 1000 repetitions; the bound is that minus about 3.5 standard errors of a
  /// 200-repetition estimate). An earlier bound of 0.85 held for one draw of the old generator
  /// only.
  func testPermutationTestHasPowerUnderShift() throws {
    var g = SeededGenerator(seed: 77)
    var rejections = 0
    let repetitions = 200
    for rep in 0..<repetitions {
      let x = gaussianMatrix(rows: 40, columns: 3, generator: &g)
      var yv = gaussianMatrix(rows: 40, columns: 3, generator: &g).values
      for i in 0..<40 { yv[i * 3] += 0.8 }
      let y = try FeatureMatrix(rows: 40, columns: 3, values: yv)
      let r = try MMD.test(
        source: x, target: y,
        options: .init(permutations: 99, seed: UInt64(rep), bootstrap: .init(replicates: 0)))
      if r.pValue <= 0.05 { rejections += 1 }
    }
    let power = Double(rejections) / Double(repetitions)
    print("MMD power (0.8σ shift, n = m = 40, B = 99): \(power)")
    XCTAssertGreaterThanOrEqual(power, 0.72)
  }

  func testPValueFormulaAndBootstrapInterval() throws {
    var g = SeededGenerator(seed: 8)
    let x = gaussianMatrix(rows: 60, columns: 5, generator: &g)
    let y = gaussianMatrix(rows: 50, columns: 5, mean: 1.5, generator: &g)
    let r = try MMD.test(source: x, target: y, options: .init(permutations: 250, seed: 1))
    // Strong shift: no permutation reaches the observed value, p = 1/(1 + B).
    XCTAssertEqual(r.pValue, 1.0 / 251, accuracy: 1e-15)
    let ci = try XCTUnwrap(r.interval)
    XCTAssertLessThan(ci.lower, r.mmd2)
    XCTAssertGreaterThan(ci.upper, r.mmd2)
    XCTAssertGreaterThan(ci.lower, 0)
    // Same seed, same answer.
    XCTAssertEqual(
      r, try MMD.test(source: x, target: y, options: .init(permutations: 250, seed: 1)))
  }

  func testTooFewSamplesThrows() throws {
    let one = try FeatureMatrix(rows: 1, columns: 2, values: [0, 1])
    XCTAssertThrowsError(try MMD.test(source: one, target: one)) { error in
      XCTAssertTrue("\(error)".contains("at least 2"), "\(error)")
    }
  }
}
