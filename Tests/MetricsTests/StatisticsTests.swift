import Metrics
import TestSupport
import XCTest

/// Distributions, KS/Wasserstein, McNemar and Holm against scipy values written by
/// scripts/reference/metrics_reference.py, and hand-worked examples.
final class StatisticsTests: XCTestCase {
  func testKSAndWassersteinMatchScipy() throws {
    let reference = try loadFixture("metrics_reference.json")
    var maxDiff = 0.0
    for case let c as [String: Any] in reference["ks"] as! [Any] {
      let x = doubles(c["x"])
      let y = doubles(c["y"])
      let ks = try TwoSample.kolmogorovSmirnov(x, y)
      XCTAssertEqual(ks.method, "exact")
      XCTAssertEqual(ks.statistic, (c["statistic"] as! NSNumber).doubleValue, accuracy: 1e-12)
      let p = (c["pvalue"] as! NSNumber).doubleValue
      XCTAssertEqual(ks.pValue, p, accuracy: 1e-9 + 1e-7 * p, "n=\(x.count) m=\(y.count)")
      let w = try TwoSample.wasserstein1(x, y)
      XCTAssertEqual(w, (c["wasserstein"] as! NSNumber).doubleValue, accuracy: 1e-12)
      maxDiff = max(maxDiff, abs(ks.pValue - p))
    }
    print("KS vs scipy OK, maxdiff p = \(maxDiff)")
  }

  func testKSOfIdenticalSamplesIsOne() throws {
    let x = [1.0, 2, 3, 4, 5]
    let ks = try TwoSample.kolmogorovSmirnov(x, x)
    XCTAssertEqual(ks.statistic, 0)
    XCTAssertEqual(ks.pValue, 1)
    XCTAssertEqual(try TwoSample.wasserstein1(x, x), 0)
    XCTAssertEqual(try TwoSample.wasserstein1([0], [3]), 3)
  }

  func testStudentTAndNormalQuantiles() throws {
    let reference = try loadFixture("metrics_reference.json")
    for case let c as [String: Any] in reference["tQuantiles"] as! [Any] {
      let p = (c["p"] as! NSNumber).doubleValue
      let df = (c["df"] as! NSNumber).doubleValue
      let q = (c["q"] as! NSNumber).doubleValue
      XCTAssertEqual(Distributions.studentTQuantile(p, df: df), q, accuracy: 1e-9 * max(1, abs(q)))
    }
    XCTAssertEqual(Distributions.normalQuantile(0.975), 1.959963984540054, accuracy: 1e-12)
    XCTAssertEqual(Distributions.normalCDF(-1.959963984540054), 0.025, accuracy: 1e-14)
  }

  func testMcNemarMatchesScipyBinomial() throws {
    let reference = try loadFixture("metrics_reference.json")
    for case let c as [String: Any] in reference["mcnemar"] as! [Any] {
      let b = (c["b"] as! NSNumber).intValue
      let cc = (c["c"] as! NSNumber).intValue
      // 7 samples both right, 4 both wrong, then the discordant ones.
      var a = [Bool](repeating: true, count: 7) + [Bool](repeating: false, count: 4)
      var bb = a
      a += [Bool](repeating: true, count: b) + [Bool](repeating: false, count: cc)
      bb += [Bool](repeating: false, count: b) + [Bool](repeating: true, count: cc)
      let r = try PairedComparison.mcNemar(correctA: a, correctB: bb)
      XCTAssertEqual(r.onlyACorrect, b)
      XCTAssertEqual(r.onlyBCorrect, cc)
      XCTAssertEqual(r.exactPValue, (c["exact"] as! NSNumber).doubleValue, accuracy: 1e-12)
      XCTAssertEqual(r.midPValue, (c["mid"] as! NSNumber).doubleValue, accuracy: 1e-12)
    }
  }

  /// Holm on p = (0.01, 0.04, 0.03, 0.005), m = 4, by hand:
  /// sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.06, 0.04·1) = 0.06.
  func testHolmHandExample() {
    let adjusted = MultipleTesting.holm([0.01, 0.04, 0.03, 0.005])
    assertClose(adjusted, [0.03, 0.06, 0.06, 0.02], rtol: 0, atol: 1e-15)
    let named = MultipleTesting.holm(
      named: [("a", 0.01), ("b", 0.04), ("c", 0.03), ("d", 0.005)], alpha: 0.05)
    XCTAssertEqual(named.map(\.rejected), [true, false, false, true])
    // 0.8·2 = 1.6 → 1, then max(1, 0.9·1) = 1.
    XCTAssertEqual(MultipleTesting.holm([0.9, 0.8]), [1, 1])
  }

  func testPairedDifferenceTInterval() throws {
    // Differences 1, 2, 3, 4, 5: mean 3, sd √2.5, t(0.975, 4) = 2.7764451051977987.
    let r = try PairedComparison.difference(
      [2, 4, 6, 8, 10], [1, 2, 3, 4, 5], bootstrap: .init(replicates: 500, seed: 3))
    XCTAssertEqual(r.meanDifference, 3)
    let half = 2.7764451051977987 * (2.5).squareRoot() / (5.0).squareRoot()
    XCTAssertEqual(r.tInterval!.lower, 3 - half, accuracy: 1e-9)
    XCTAssertEqual(r.tInterval!.upper, 3 + half, accuracy: 1e-9)
    XCTAssertEqual(r.tStatistic!, 3 / ((2.5).squareRoot() / (5.0).squareRoot()), accuracy: 1e-12)
    XCTAssertLessThan(r.pValue!, 0.02)
    let boot = r.bootstrapInterval!
    XCTAssertTrue(boot.lower >= 1 && boot.upper <= 5 && boot.lower < 3 && boot.upper > 3)
  }

  /// Closed forms of the paired test at df = 2 (differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1,
  /// t = 2√3, P(|T| ≥ t) = 1 − t/√(t² + 2)); one pair has no test; equal differences collapse
  /// the interval and leave the test undefined.
  func testPairedDifferenceClosedFormsAndDegenerateCases() throws {
    let r = try PairedComparison.difference(
      [0.6, 0.7, 0.8], [0.5, 0.5, 0.5], bootstrap: .init(replicates: 0))
    let t = 2 * 3.0.squareRoot()
    XCTAssertEqual(r.tStatistic!, t, accuracy: 1e-9)
    XCTAssertEqual(r.pValue!, 1 - t / (t * t + 2).squareRoot(), accuracy: 1e-9)
    let single = try PairedComparison.difference([0.6], [0.5], bootstrap: .init(replicates: 0))
    XCTAssertNil(single.pValue)
    XCTAssertNil(single.tInterval)
    let flat = try PairedComparison.difference(
      [0.6, 0.6], [0.5, 0.5], bootstrap: .init(replicates: 0))
    XCTAssertNil(flat.pValue)
    XCTAssertNil(flat.tStatistic)
    XCTAssertEqual(flat.tInterval!.lower, 0.1, accuracy: 1e-12)
    XCTAssertEqual(flat.tInterval!.upper, 0.1, accuracy: 1e-12)
    // The one-sample mean interval is the same t interval: df = 1 → t(0.975, 1) = 12.7062…
    let m = PairedComparison.mean([1, 3])
    XCTAssertEqual(m.interval!.upper - 2, 12.706204736174698 * 1, accuracy: 1e-8)
  }

  func testBootstrapIsSeeded() {
    let x = (0..<50).map { Double($0 % 7) }
    let plan = Bootstrap.Plan(replicates: 200, seed: 9)
    let a = Bootstrap.estimate(count: x.count, plan: plan) { Descriptive.mean($0.map { x[$0] }) }
    let b = Bootstrap.estimate(count: x.count, plan: plan) { Descriptive.mean($0.map { x[$0] }) }
    XCTAssertEqual(a, b)
    XCTAssertLessThan(a.interval!.lower, a.value)
    XCTAssertGreaterThan(a.interval!.upper, a.value)
  }
}
