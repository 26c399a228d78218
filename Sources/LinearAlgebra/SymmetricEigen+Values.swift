import CBLAS

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
    var w = [Double](repeating: 0, count: n)
    var nn = Int32(n)
    var lda = Int32(n)
    var info: Int32 = 0
    var jobz = Int8(UInt8(ascii: "N"))
    var uplo = Int8(UInt8(ascii: "L"))
    var workQuery = 0.0
    var iworkQuery: Int32 = 0
    var lwork: Int32 = -1
    var liwork: Int32 = -1
    dsyevd_(&jobz, &uplo, &nn, &matrix, &lda, &w, &workQuery, &lwork, &iworkQuery, &liwork, &info)
    guard info == 0 else { throw LinearAlgebraError.lapack(routine: "dsyevd", info: Int(info)) }
    lwork = max(1, Int32(workQuery))
    liwork = max(1, iworkQuery)
    var work = [Double](repeating: 0, count: Int(lwork))
    var iwork = [Int32](repeating: 0, count: Int(liwork))
    dsyevd_(&jobz, &uplo, &nn, &matrix, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
    guard info == 0 else { throw LinearAlgebraError.lapack(routine: "dsyevd", info: Int(info)) }
    return w
  }
}
