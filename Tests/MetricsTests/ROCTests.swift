import Metrics
import Randomness
import TestSupport
import XCTest

final class ROCTests: XCTestCase {
  /// AUROC against a brute-force count of correctly ordered (positive, negative) pairs.
  func testAUROCMatchesPairCount() throws {
    var g = SeededGenerator(seed: 12)
    let n = 157
    let positive = (0..<n).map { _ in g.unit() < 0.3 }
    let scores = positive.map { p in ((p ? 0.7 : 0) + g.normal()).rounded() / 2 }  // many ties
    var wins = 0.0
    var pairs = 0.0
    for i in 0..<n where positive[i] {
      for j in 0..<n where !positive[j] {
        pairs += 1
        wins += scores[i] > scores[j] ? 1 : (scores[i] == scores[j] ? 0.5 : 0)
      }
    }
    XCTAssertEqual(try ROC.auroc(scores: scores, positive: positive), wins / pairs, accuracy: 1e-12)
  }

  /// DeLong variances, covariance and the paired test against the brute-force structural
  /// components in scripts/reference/metrics_reference.py.
  func testDeLongMatchesBruteForceReference() throws {
    let c = try loadFixture("metrics_reference.json")["delong"] as! [String: Any]
    let a = doubles(c["scoresA"])
    let b = doubles(c["scoresB"])
    let positive = ints(c["labels"]).map { $0 == 1 }
    let ra = try ROC.analyze(scores: a, positive: positive)
    let rb = try ROC.analyze(scores: b, positive: positive)
    XCTAssertEqual(ra.auc, (c["aucA"] as! NSNumber).doubleValue, accuracy: 1e-12)
    XCTAssertEqual(rb.auc, (c["aucB"] as! NSNumber).doubleValue, accuracy: 1e-12)
    XCTAssertEqual(ra.variance, (c["varA"] as! NSNumber).doubleValue, accuracy: 1e-12)
    XCTAssertEqual(rb.variance, (c["varB"] as! NSNumber).doubleValue, accuracy: 1e-12)
    let cmp = try ROC.compare(scoresA: a, scoresB: b, positive: positive)
    XCTAssertEqual(cmp.z, (c["z"] as! NSNumber).doubleValue, accuracy: 1e-9)
    XCTAssertEqual(cmp.pValue, (c["p"] as! NSNumber).doubleValue, accuracy: 1e-9)
    let z = Distributions.normalQuantile(0.975)
    XCTAssertEqual(ra.deLongInterval.lower, ra.auc - z * ra.variance.squareRoot(), accuracy: 1e-12)
    print("DeLong OK: AUC \(ra.auc) var \(ra.variance); paired z \(cmp.z) p \(cmp.pValue)")
  }

  func testStratifiedBootstrapAndOneVsRest() throws {
    var g = SeededGenerator(seed: 21)
    let n = 300
    let k = 3
    let labels = (0..<n).map { $0 % k }
    let probabilities: [[Double]] = labels.map { y in
      var logits = (0..<k).map { _ in g.normal() }
      logits[y] += 1.5
      let e = logits.map { exp($0) }
      let s = e.reduce(0, +)
      return e.map { $0 / s }
    }
    let r = try ROC.oneVsRest(
      probabilities: probabilities, labels: labels, bootstrap: .init(replicates: 300, seed: 1))
    XCTAssertEqual(r.perClass.count, 3)
    for c in 0..<k {
      let direct = try ROC.auroc(
        scores: probabilities.map { $0[c] }, positive: labels.map { $0 == c })
      XCTAssertEqual(r.perClass[c].auc, direct, accuracy: 1e-12)
    }
    let ci = try XCTUnwrap(r.bootstrapInterval)
    XCTAssertTrue(ci.lower < r.macroAUC && r.macroAUC < ci.upper, "\(ci) vs \(r.macroAUC)")
    XCTAssertTrue(ci.method.hasPrefix("stratified"))
    // The binary bootstrap interval roughly agrees with DeLong's.
    let binary = try ROC.analyze(
      scores: probabilities.map { $0[0] }, positive: labels.map { $0 == 0 },
      bootstrap: .init(replicates: 500, seed: 2))
    let boot = try XCTUnwrap(binary.bootstrapInterval)
    XCTAssertEqual(
      boot.upper - boot.lower, binary.deLongInterval.upper - binary.deLongInterval.lower,
      accuracy: 0.03)
  }

  func testCurveAndMissingClass() throws {
    let points = ROC.curve(scores: [0.9, 0.8, 0.3, 0.1], positive: [true, false, true, false])
    XCTAssertEqual(points.first?.truePositiveRate, 0)
    XCTAssertEqual(points.last?.falsePositiveRate, 1)
    XCTAssertEqual(points.last?.truePositiveRate, 1)
    XCTAssertThrowsError(try ROC.auroc(scores: [0.1, 0.2], positive: [true, true]))
  }
}
