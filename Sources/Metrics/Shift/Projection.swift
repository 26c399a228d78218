import LinearAlgebra

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
  /// n×n Gram matrix when there are fewer rows than features). Each axis is signed so that its
  /// largest-magnitude loading is positive, making the picture deterministic.
  public static func pca(source: FeatureMatrix, target: FeatureMatrix) throws -> Projection2D {
    let pooled = try source.stacked(with: target)
    let n = pooled.rows, d = pooled.columns
    guard n >= 2 else { throw MetricsError.tooFewSamples(input: "PCA rows", count: n, minimum: 2) }
    let z = pooled.centered(by: pooled.columnMeans())
    var scores = [[Double]](repeating: [Double](repeating: 0, count: n), count: 2)
    var top = [0.0, 0.0]
    var totalVariance = 0.0
    do {
      if d <= n {
        let cov = GaussianDistances.product(z, n, d, z, n, transposeFirst: true)
        let eig = try SymmetricEigen(symmetric: cov, n: d)
        totalVariance = eig.values.reduce(0) { $0 + max($1, 0) }
        for axis in 0..<min(2, d) {
          let col = d - 1 - axis
          var v = (0..<d).map { eig.vectors[$0 * d + col] }
          if let big = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[big] < 0 { v = v.map { -$0 } }
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
