import Randomness
import TestSupport
import XCTest

@testable import Metrics

final class CovarianceBootstrapTests: XCTestCase {
  /// The pooled-Gram replicate (multiplicity weights) equals refitting on the resampled rows.
  func testWeightedGramReplicateEqualsRowResample() throws {
    var g = SeededGenerator(seed: 13)
    let d = 40
    let x = gaussianMatrix(rows: 10, columns: d, generator: &g)
    let y = gaussianMatrix(rows: 12, columns: d, mean: 0.4, scale: 1.2, generator: &g)
    let gram = try GaussianDistances.WeightedGram(x, y)
    for _ in 0..<3 {
      let i = Bootstrap.resample(10, using: &g)
      let j = Bootstrap.resample(12, using: &g)
      let r = try gram.distances(sourceIndices: i, targetIndices: j)
      let xs = x.selecting(rows: i)
      let ys = y.selecting(rows: j)
      let fd = try GaussianDistances.frechet(source: xs, target: ys)
      XCTAssertEqual(r.frechet, fd, accuracy: 1e-8 * fd)
      XCTAssertEqual(r.coral, try GaussianDistances.coral(source: xs, target: ys), accuracy: 1e-10)
    }
  }

  func testBasicIntervalBracketsTheEstimate() throws {
    var g = SeededGenerator(seed: 14)
    let x = gaussianMatrix(rows: 30, columns: 50, generator: &g)
    let y = gaussianMatrix(rows: 30, columns: 50, mean: 0.5, generator: &g)
    let r = try GaussianDistances.distancesWithIntervals(
      source: x, target: y, bootstrap: .init(replicates: 50, seed: 1))
    for e in [r.frechet, r.coral] {
      let ci = try XCTUnwrap(e.interval)
      XCTAssertTrue(ci.method.hasPrefix("bias-shifted percentile bootstrap"), ci.method)
      XCTAssertLessThanOrEqual(ci.lower, e.value)
      XCTAssertGreaterThanOrEqual(ci.upper, e.value)
    }
  }
}
