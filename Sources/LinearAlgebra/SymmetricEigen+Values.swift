extension SymmetricEigen {
  /// Eigenvalues only (ascending) of the n×n symmetric matrix `a`, row-major.
  ///
  /// Calls `dsyevd` with `jobz = "N"`, which skips the back-transformation of the
  /// eigenvectors and is several times faster than `init(symmetric:n:)` for large n. Metrics
  /// uses it for traces of matrix square roots (Fréchet distance), where vectors are not needed.
  public static func eigenvalues(symmetric a: [Double], n: Int) throws -> [Double] {
    precondition(
      a.count == n * n,
      "SymmetricEigen.eigenvalues needs an n×n matrix with n*n = \(n * n) values, got \(a.count).")
    if n == 0 { return [] }
    var matrix = a
    return try dsyevd(&matrix, n: n, vectors: false)
  }
}
