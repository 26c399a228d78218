import Metrics
import Randomness
import TestSupport
import XCTest

final class ClassificationTests: XCTestCase {
  /// Hand example: labels (0,0,0,1,1,2), predictions (0,1,0,1,2,2).
  /// Confusion [[2,1,0],[0,1,1],[0,0,1]]; accuracy 4/6; recalls 2/3, 1/2, 1 → balanced 13/18;
  /// F1: class 0 = 2·2/(3+2) = 0.8, class 1 = 2·1/(2+2) = 0.5, class 2 = 2·1/(1+2) = 2/3.
  func testConfusionAccuracyBalancedF1() throws {
    let m = try ConfusionMatrix(
      labels: [0, 0, 0, 1, 1, 2], predictions: [0, 1, 0, 1, 2, 2], classCount: 3)
    XCTAssertEqual(m.counts, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    XCTAssertEqual(m.accuracy, 4.0 / 6, accuracy: 1e-15)
    XCTAssertEqual(m.balancedAccuracy, 13.0 / 18, accuracy: 1e-15)
    assertClose(m.f1Scores, [0.8, 0.5, 2.0 / 3], rtol: 0, atol: 1e-15)
    XCTAssertEqual(m.macroF1, (0.8 + 0.5 + 2.0 / 3) / 3, accuracy: 1e-15)
    XCTAssertThrowsError(try ConfusionMatrix(labels: [3], predictions: [0], classCount: 3))
  }

  /// Macro F1 averages over the classes in the labels or the predictions (scikit-learn's
  /// default): a class in neither does not pull the mean towards 0.
  func testMacroF1SkipsAbsentClasses() throws {
    let m = try ConfusionMatrix(labels: [0, 0, 1, 1], predictions: [0, 1, 1, 1], classCount: 3)
    // F1: class 0 = 2·1/(2+1) = 2/3, class 1 = 2·2/(2+3) = 0.8; class 2 absent from both.
    XCTAssertEqual(m.macroF1, (2.0 / 3 + 0.8) / 2, accuracy: 1e-15)
  }

  /// Wilson intervals against scipy (`binomtest(k, n).proportion_ci(method="wilson")`, from
  /// scripts/reference/metrics_reference.py).
  func testWilsonIntervalMatchesScipy() throws {
    let reference = try loadFixture("metrics_reference.json")
    var maxDiff = 0.0
    for case let c as [String: Any] in reference["wilson"] as! [Any] {
      let k = (c["k"] as! NSNumber).intValue
      let n = (c["n"] as! NSNumber).intValue
      let level = (c["level"] as! NSNumber).doubleValue
      let ci = try XCTUnwrap(Classification.wilsonInterval(successes: k, count: n, level: level))
      let low = (c["low"] as! NSNumber).doubleValue
      let high = (c["high"] as! NSNumber).doubleValue
      XCTAssertEqual(ci.lower, low, accuracy: 1e-12, "k=\(k) n=\(n)")
      XCTAssertEqual(ci.upper, high, accuracy: 1e-12, "k=\(k) n=\(n)")
      maxDiff = max(maxDiff, abs(ci.lower - low), abs(ci.upper - high))
    }
    print("Wilson vs scipy OK, maxdiff = \(maxDiff)")
    XCTAssertNil(Classification.wilsonInterval(successes: 0, count: 0))
  }

  /// Log loss: −mean log p(label), clipped at 1e-12.
  func testLogLoss() {
    let p: [[Double]] = [[0.8, 0.2], [0.4, 0.6], [1, 0]]
    let expected = -(log(0.8) + log(0.6) + log(1e-12)) / 3
    XCTAssertEqual(
      Classification.logLoss(probabilities: p, labels: [0, 1, 1]), expected, accuracy: 1e-12)
  }

  /// ECE hand example, 15 bins: confidences 0.95 (correct), 0.95 (wrong), 0.55 (correct),
  /// 0.6 (correct). 0.95 → bin (14/15, 1]: |0.5 − 0.95| · 2/4; 0.55 → bin (8/15, 9/15];
  /// 0.6 → bin (8/15, 9/15] too (0.6 = 9/15 is its upper, inclusive edge):
  /// |1 − 0.575| · 2/4. ECE = 0.225 + 0.2125.
  func testExpectedCalibrationError() throws {
    let p: [[Double]] = [[0.05, 0.95], [0.95, 0.05], [0.45, 0.55], [0.6, 0.4]]
    let labels = [1, 1, 1, 0]
    let r = try Calibration.expectedCalibrationError(probabilities: p, labels: labels)
    XCTAssertEqual(r.bins.count, 2, "only the two non-empty bins are listed")
    XCTAssertEqual(r.expectedCalibrationError, 0.225 + 0.2125, accuracy: 1e-12)
    XCTAssertEqual(r.bins[1].count, 2)
    XCTAssertEqual(r.bins[1].upper, 1)
    XCTAssertEqual(r.bins[1].accuracy, 0.5)
    XCTAssertEqual(r.bins[0].count, 2)
    XCTAssertEqual(r.bins[0].lower, 8.0 / 15)
    XCTAssertEqual(r.bins[0].meanConfidence, 0.575, accuracy: 1e-12)
    XCTAssertEqual(r.maximumCalibrationError, 0.45, accuracy: 1e-12)
  }

}
