import Metrics
import Randomness
import TestSupport
import XCTest

final class ProjectionTests: XCTestCase {
  /// Two planted directions (std 10 and 6) plus unit noise: every PCA route (d ≤ n covariance,
  /// n < d Gram, and subspace iteration when both exceed 512) recovers the latent factors.
  func testPCARecoversPlantedDirections() throws {
    for (n, d) in [(200, 20), (60, 150), (600, 560)] {
      var g = SeededGenerator(seed: UInt64(n * 1000 + d))
      let f1 = (0..<n).map { _ in 10 * g.normal() }
      let f2 = (0..<n).map { _ in 6 * g.normal() }
      var values = [Float]()
      for i in 0..<n {
        for j in 0..<d {
          // Direction 1 = feature 0, direction 2 = feature 1.
          let signal = j == 0 ? f1[i] : (j == 1 ? f2[i] : 0)
          values.append(Float(signal + g.normal()))
        }
      }
      let all = try FeatureMatrix(rows: n, columns: d, values: values)
      let half = n / 2
      let p = try Projection.pca(
        source: all.selecting(rows: Array(0..<half)), target: all.selecting(rows: Array(half..<n)))
      let xs = (p.source + p.target).map(\.x)
      let ys = (p.source + p.target).map(\.y)
      func corr(_ a: [Double], _ b: [Double]) -> Double {
        let ma = Descriptive.mean(a)
        let mb = Descriptive.mean(b)
        var sab = 0.0
        var saa = 0.0
        var sbb = 0.0
        for i in a.indices {
          sab += (a[i] - ma) * (b[i] - mb)
          saa += (a[i] - ma) * (a[i] - ma)
          sbb += (b[i] - mb) * (b[i] - mb)
        }
        return sab / (saa * sbb).squareRoot()
      }
      XCTAssertGreaterThan(abs(corr(xs, f1)), 0.98, "n=\(n) d=\(d)")
      XCTAssertGreaterThan(abs(corr(ys, f2)), 0.95, "n=\(n) d=\(d)")
      XCTAssertGreaterThan(p.explainedVarianceRatio[0], p.explainedVarianceRatio[1])
      print("PCA n=\(n) d=\(d): explained \(p.explainedVarianceRatio)")
    }
  }
}
