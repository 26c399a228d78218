import Metrics
import Randomness
import TestSupport
import XCTest

final class LogMETests: XCTestCase {
  /// Against the explicit-matrix numpy LogME in scripts/reference/metrics_reference.py, for
  /// D < n (eigen-decomposition of FᵀF) and D > n (of FFᵀ).
  func testLogMEMatchesNumpyReference() throws {
    let cases = try loadFixture("metrics_reference.json")["logme"] as! [Any]
    for case let c as [String: Any] in cases {
      let n = (c["n"] as! NSNumber).intValue
      let d = (c["d"] as! NSNumber).intValue
      let k = (c["k"] as! NSNumber).intValue
      let f = try FeatureMatrix(rows: n, columns: d, values: doubles(c["features"]).map(Float.init))
      let r = try LogME.score(features: f, labels: ints(c["labels"]), classCount: k)
      let diff = assertClose(r.perClass, doubles(c["perClass"]), rtol: 1e-6, atol: 1e-7)
      XCTAssertEqual(r.score, (c["score"] as! NSNumber).doubleValue, accuracy: 1e-6)
      print("LogME n=\(n) d=\(d) OK, maxdiff = \(diff)")
    }
  }

  /// Features that encode the label score higher than pure noise.
  func testInformativeFeaturesScoreHigher() throws {
    var g = SeededGenerator(seed: 4)
    let n = 100
    let d = 8
    let labels = (0..<n).map { $0 % 2 }
    let noise = gaussianMatrix(rows: n, columns: d, generator: &g)
    var informative = noise.values
    for i in 0..<n { informative[i * d] += labels[i] == 1 ? 3 : -3 }
    let good = try LogME.score(
      features: try FeatureMatrix(rows: n, columns: d, values: informative), labels: labels)
    let bad = try LogME.score(features: noise, labels: labels)
    XCTAssertGreaterThan(good.score, bad.score + 0.1)
  }
}
