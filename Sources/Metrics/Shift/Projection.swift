import LinearAlgebra
import Randomness

/// A 2-D point of an embedding picture.
public struct Point2D: Codable, Sendable, Equatable {
  /// First coordinate.
  public var x: Double
  /// Second coordinate.
  public var y: Double
}

/// Source and target features projected to two dimensions, for a report to draw.
public struct Projection2D: Codable, Sendable, Equatable {
  /// "pca".
  public var method: String
  /// Projected source rows, in input order.
  public var source: [Point2D]
  /// Projected target rows, in input order.
  public var target: [Point2D]
  /// Fraction of the pooled variance along each of the two axes.
  public var explainedVarianceRatio: [Double]
}

/// Low-dimensional projections of pooled features.
public enum Projection {
  /// Principal-component projection of the pooled source and target rows onto the top two
  /// components of the pooled covariance (eigen-decomposition of the d×d covariance, or of the
  /// n×n Gram matrix when there are fewer rows than features; seeded block subspace iteration
  /// when both exceed 512). Each axis is signed so that its
  /// largest-magnitude loading is positive, making the picture deterministic.
  public static func pca(source: FeatureMatrix, target: FeatureMatrix) throws -> Projection2D {
    let pooled = try source.stacked(with: target)
    let n = pooled.rows
    let d = pooled.columns
    guard n >= 2 else { throw MetricsError.tooFewSamples(input: "PCA rows", count: n, minimum: 2) }
    let z = pooled.centered(by: pooled.columnMeans())
    var scores = [[Double]](repeating: [Double](repeating: 0, count: n), count: 2)
    var top = [0.0, 0.0]
    var totalVariance = 0.0
    do {
      if d > 512 && n > 512 {
        // Block subspace iteration: the top two of k = 8 directions converge geometrically
        // with ratio λ₉/λ₂ per iteration; 30 iterations cost 60 thin GEMMs instead of a
        // d×d eigen-decomposition (seconds at d = 1280).
        let k = 8
        var generator = SeededGenerator(seed: 0x9ca)
        var q = (0..<(d * k)).map { _ in generator.normal() }
        orthonormalizeColumns(&q, rows: d, columns: k)
        var y = [Double](repeating: 0, count: n * k)
        for _ in 0..<30 {
          y = GaussianDistances.multiply(z, n, d, q, k, transposeB: false)  // Z·Q: n×k
          q = GaussianDistances.product(z, n, d, y, n, transposeFirst: true)  // Zᵀ·Y: d×k
          orthonormalizeColumns(&q, rows: d, columns: k)
        }
        y = GaussianDistances.multiply(z, n, d, q, k, transposeB: false)
        let small = GaussianDistances.product(y, n, k, y, n, transposeFirst: true)  // k×k
        let eig = try SymmetricEigen(symmetric: GaussianDistances.symmetrized(small, k), n: k)
        totalVariance = z.reduce(0) { $0 + $1 * $1 }
        for axis in 0..<2 {
          let col = k - 1 - axis
          top[axis] = max(eig.values[col], 0)
          var v = [Double](repeating: 0, count: d)
          for j in 0..<d { for c in 0..<k { v[j] += q[j * k + c] * eig.vectors[c * k + col] } }
          if let big = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[big] < 0 {
            v = v.map { -$0 }
          }
          for i in 0..<n {
            var s = 0.0
            for j in 0..<d { s += z[i * d + j] * v[j] }
            scores[axis][i] = s
          }
        }
      } else if d <= n {
        let cov = GaussianDistances.product(z, n, d, z, n, transposeFirst: true)
        let eig = try SymmetricEigen(symmetric: cov, n: d)
        totalVariance = eig.values.reduce(0) { $0 + max($1, 0) }
        for axis in 0..<min(2, d) {
          let col = d - 1 - axis
          var v = (0..<d).map { eig.vectors[$0 * d + col] }
          if let big = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[big] < 0 {
            v = v.map { -$0 }
          }
          top[axis] = max(eig.values[col], 0)
          for i in 0..<n {
            var s = 0.0
            for j in 0..<d { s += z[i * d + j] * v[j] }
            scores[axis][i] = s
          }
        }
      } else {
        let gram = GaussianDistances.product(z, n, d, z, n, transposeFirst: false)
        let eig = try SymmetricEigen(symmetric: gram, n: n)
        totalVariance = eig.values.reduce(0) { $0 + max($1, 0) }
        for axis in 0..<min(2, n) {
          let col = n - 1 - axis
          let lambda = max(eig.values[col], 0)
          top[axis] = lambda
          var u = (0..<n).map { eig.vectors[$0 * n + col] * lambda.squareRoot() }
          // Sign by the loading vector v = Zᵀu/√λ, like the d ≤ n branch.
          var loading = [Double](repeating: 0, count: d)
          for i in 0..<n { for j in 0..<d { loading[j] += z[i * d + j] * u[i] } }
          if let big = loading.indices.max(by: { abs(loading[$0]) < abs(loading[$1]) }),
            loading[big] < 0
          {
            u = u.map { -$0 }
          }
          scores[axis] = u
        }
      }
    } catch {
      throw MetricsError.numerical(operation: "PCA eigen-decomposition", cause: "\(error)")
    }
    let points = (0..<n).map { Point2D(x: scores[0][$0], y: scores[1][$0]) }
    return Projection2D(
      method: "pca", source: Array(points[0..<source.rows]), target: Array(points[source.rows...]),
      explainedVarianceRatio: top.map { totalVariance > 0 ? $0 / totalVariance : 0 })
  }
}

/// Modified Gram–Schmidt on the columns of a row-major rows×columns matrix.
func orthonormalizeColumns(_ a: inout [Double], rows: Int, columns: Int) {
  for c in 0..<columns {
    for p in 0..<c {
      var dot = 0.0
      for r in 0..<rows { dot += a[r * columns + c] * a[r * columns + p] }
      for r in 0..<rows { a[r * columns + c] -= dot * a[r * columns + p] }
    }
    var norm = 0.0
    for r in 0..<rows { norm += a[r * columns + c] * a[r * columns + c] }
    norm = norm.squareRoot()
    let scale = norm > 0 ? 1 / norm : 0
    for r in 0..<rows { a[r * columns + c] *= scale }
  }
}
