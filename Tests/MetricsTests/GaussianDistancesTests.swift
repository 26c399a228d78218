import Metrics
import Randomness
import TestSupport
import XCTest

final class GaussianDistancesTests: XCTestCase {
  /// Commuting (diagonal) covariances: FD = ‖μ₁ − μ₂‖² + Σ (√aᵢ − √bᵢ)².
  func testFrechetOfDiagonalGaussiansMatchesClosedForm() throws {
    let a = [1.0, 4.0, 9.0]
    let b = [4.0, 1.0, 0.25]
    let mu1 = [0.0, 1.0, 2.0]
    let mu2 = [1.0, 1.0, 0.0]
    func diag(_ v: [Double]) -> [Double] {
      var m = [Double](repeating: 0, count: 9)
      for i in 0..<3 { m[i * 4] = v[i] }
      return m
    }
    let fd = try GaussianDistances.frechet(
      mean1: mu1, covariance1: diag(a), mean2: mu2, covariance2: diag(b))
    // 5 + (1−2)² + (2−1)² + (3−0.5)² = 5 + 1 + 1 + 6.25
    XCTAssertEqual(fd, 13.25, accuracy: 1e-10)
  }

  /// Non-commuting case: Σ₁ = sI and Σ₂ = R diag(λ) Rᵀ (rotated); then
  /// (Σ₁^{1/2}Σ₂Σ₁^{1/2})^{1/2} = √s Σ₂^{1/2} and FD = Σ (√s − √λᵢ)².
  func testFrechetOfRotatedGaussianMatchesClosedForm() throws {
    let s = 2.0
    let lambda = [0.5, 3.0]
    let t = 0.6
    let r = [cos(t), -sin(t), sin(t), cos(t)]
    var c2 = [Double](repeating: 0, count: 4)
    for i in 0..<2 {
      for j in 0..<2 { for k in 0..<2 { c2[i * 2 + j] += r[i * 2 + k] * lambda[k] * r[j * 2 + k] } }
    }
    let fd = try GaussianDistances.frechet(
      mean1: [0, 0], covariance1: [s, 0, 0, s], mean2: [0, 0], covariance2: c2)
    let expected = lambda.reduce(0) { $0 + pow(s.squareRoot() - $1.squareRoot(), 2) }
    XCTAssertEqual(fd, expected, accuracy: 1e-10)
  }

  /// Sample-based Fréchet and CORAL against scipy.linalg.sqrtm (fixture from
  /// scripts/reference/metrics_reference.py).
  func testSampleFrechetAndCoralMatchScipy() throws {
    let c = try loadFixture("metrics_reference.json")["frechet"] as! [String: Any]
    let d = (c["d"] as! NSNumber).intValue
    let xv = doubles(c["x"]).map(Float.init)
    let yv = doubles(c["y"]).map(Float.init)
    let x = try FeatureMatrix(rows: xv.count / d, columns: d, values: xv)
    let y = try FeatureMatrix(rows: yv.count / d, columns: d, values: yv)
    let fd = try GaussianDistances.frechet(source: x, target: y)
    let expected = (c["frechet"] as! NSNumber).doubleValue
    XCTAssertEqual(fd, expected, accuracy: 1e-8 * expected)
    let coral = try GaussianDistances.coral(source: x, target: y)
    XCTAssertEqual(coral, (c["coral"] as! NSNumber).doubleValue, accuracy: 1e-10)
    print("Frechet vs scipy OK, diff = \(abs(fd - expected))")
  }

  /// With fewer samples than features the sample-space route must agree with the d×d route
  /// (the moments overload always takes the d×d route).
  func testSampleSpaceRouteAgreesWithCovarianceRoute() throws {
    var g = SeededGenerator(seed: 3)
    let d = 40
    let x = gaussianMatrix(rows: 12, columns: d, generator: &g)
    let y = gaussianMatrix(rows: 17, columns: d, mean: 0.2, scale: 1.3, generator: &g)
    func moments(_ m: FeatureMatrix) -> ([Double], [Double]) {
      let n = m.rows
      var mean = [Double](repeating: 0, count: d)
      for i in 0..<n { for j in 0..<d { mean[j] += Double(m.values[i * d + j]) / Double(n) } }
      var cov = [Double](repeating: 0, count: d * d)
      for i in 0..<n {
        for a in 0..<d {
          for b in 0..<d {
            cov[a * d + b] +=
              (Double(m.values[i * d + a]) - mean[a]) * (Double(m.values[i * d + b]) - mean[b])
              / Double(n - 1)
          }
        }
      }
      return (mean, cov)
    }
    let (m1, c1) = moments(x)
    let (m2, c2) = moments(y)
    let direct = try GaussianDistances.frechet(
      mean1: m1, covariance1: c1, mean2: m2, covariance2: c2)
    let gram = try GaussianDistances.frechet(source: x, target: y)
    XCTAssertEqual(gram, direct, accuracy: 1e-7 * direct)
    var frob = 0.0
    for i in 0..<(d * d) { frob += (c1[i] - c2[i]) * (c1[i] - c2[i]) }
    XCTAssertEqual(
      try GaussianDistances.coral(source: x, target: y), frob / Double(4 * d * d), accuracy: 1e-9)
    // A sample against itself is at distance 0.
    XCTAssertEqual(try GaussianDistances.frechet(source: x, target: x), 0, accuracy: 1e-8)
  }
}
