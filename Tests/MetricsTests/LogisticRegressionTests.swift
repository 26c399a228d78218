import Metrics
import Randomness
import TestSupport
import XCTest

final class LogisticRegressionTests: XCTestCase {
  /// Multinomial fit against scipy L-BFGS on the same objective
  /// (scripts/reference/metrics_reference.py).
  func testMultinomialFitMatchesScipy() throws {
    let c = try loadFixture("metrics_reference.json")["logreg"] as! [String: Any]
    let n = (c["n"] as! NSNumber).intValue
    let d = (c["d"] as! NSNumber).intValue
    let x = try FeatureMatrix(rows: n, columns: d, values: doubles(c["features"]).map(Float.init))
    let model = try LogisticRegression.fit(
      features: x, labels: ints(c["labels"]), classCount: (c["k"] as! NSNumber).intValue,
      options: .init(l2: (c["l2"] as! NSNumber).doubleValue, tolerance: 1e-8))
    XCTAssertTrue(model.converged)
    XCTAssertEqual(model.loss, (c["loss"] as! NSNumber).doubleValue, accuracy: 1e-9)
    let diff = assertClose(
      model.predictProbabilities(x), doubles(c["probabilities"]), rtol: 0, atol: 1e-5)
    print("LogisticRegression vs scipy OK, maxdiff = \(diff), iterations = \(model.iterations)")
  }

  func testSeparableBinaryAndProxyADistance() throws {
    var g = SeededGenerator(seed: 40)
    let a = gaussianMatrix(rows: 100, columns: 4, generator: &g)
    let b = gaussianMatrix(rows: 100, columns: 4, mean: 4, generator: &g)
    let same = gaussianMatrix(rows: 100, columns: 4, generator: &g)
    let far = try ProxyADistance.compute(source: a, target: b)
    XCTAssertGreaterThan(far.value, 1.9)
    let near = try ProxyADistance.compute(source: a, target: same)
    XCTAssertLessThan(abs(near.value), 0.4)
    let ci = try XCTUnwrap(near.interval)
    XCTAssertTrue(ci.lower <= near.value && near.value <= ci.upper)
    print("PAD separated = \(far.value), same distribution = \(near.value) \(ci)")
    let model = try LogisticRegression.fit(
      features: try a.stacked(with: b),
      labels: [Int](repeating: 0, count: 100) + [Int](repeating: 1, count: 100))
    XCTAssertEqual(model.predict(b).filter { $0 == 1 }.count, 100)
  }
}
