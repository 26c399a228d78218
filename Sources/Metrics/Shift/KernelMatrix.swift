import LinearAlgebra

/// Pairwise squared Euclidean distances of the pooled sample, computed with one GEMM.
///
/// The pooled rows are centred first (distances are translation invariant, and centring keeps
/// ‖x‖² + ‖y‖² − 2x·y from cancelling catastrophically when the features have a large common
/// offset, as pooled CNN features do).
struct PooledDistances {
  /// Number of pooled rows.
  let n: Int
  /// n×n squared distances, row-major, zero diagonal.
  var squared: [Double]
  /// n×n Gram matrix of the centred rows.
  var gram: [Double]

  init(_ pooled: FeatureMatrix) {
    let n = pooled.rows
    self.n = n
    let d = pooled.columns
    let z = pooled.centered(by: pooled.columnMeans())
    var g = [Double](repeating: 0, count: n * n)
    z.withUnsafeBufferPointer { zp in
      g.withUnsafeMutableBufferPointer { gp in
        BLAS.dgemm(
          .none, .transpose, m: n, n: n, k: d, a: zp.baseAddress!, lda: max(d, 1),
          b: zp.baseAddress!, ldb: max(d, 1), c: gp.baseAddress!, ldc: n)
      }
    }
    var sq = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      let gii = g[i * n + i]
      for j in 0..<n where j != i {
        sq[i * n + j] = max(0, gii + g[j * n + j] - 2 * g[i * n + j])
      }
    }
    squared = sq
    gram = g
  }

  /// Median of the off-diagonal squared distances (i < j).
  func medianSquaredDistance() -> Double {
    var upper = [Double]()
    upper.reserveCapacity(n * (n - 1) / 2)
    for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { upper.append(squared[i * n + j]) } }
    return Descriptive.quantile(upper, 0.5)
  }
}
