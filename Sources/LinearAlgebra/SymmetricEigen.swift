import CBLAS

/// Errors from the LAPACK routines wrapped here.
public enum LinearAlgebraError: Error, CustomStringConvertible {
  /// LAPACK returned a non-zero `info` code.
  case lapack(routine: String, info: Int)

  public var description: String {
    switch self {
    case .lapack(let routine, let info):
      return "LAPACK \(routine) failed (info = \(info)); the matrix may contain NaN or be singular"
    }
  }
}

/// Eigen-decomposition of a real symmetric matrix, A = V · diag(w) · Vᵀ.
public struct SymmetricEigen: Sendable {
  /// Eigenvalues in ascending order.
  public var values: [Double]
  /// Eigenvectors as the columns of an n×n row-major matrix.
  public var vectors: [Double]
  /// The matrix order.
  public var n: Int

  /// Decomposes the n×n symmetric matrix `a` (row-major; only symmetry is assumed) with
  /// LAPACK's divide-and-conquer `dsyevd`.
  public init(symmetric a: [Double], n: Int) throws {
    precondition(
      a.count == n * n,
      "SymmetricEigen needs an n×n matrix with n*n = \(n * n) values, got \(a.count).")
    self.n = n
    if n == 0 {
      values = []
      vectors = []
      return
    }
    // Row-major symmetric == column-major symmetric, so `a` can go in as is; the
    // eigenvectors come back column-major and are transposed below.
    var matrix = a
    let w = try SymmetricEigen.dsyevd(&matrix, n: n, vectors: true)
    var rowMajor = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0..<n { rowMajor[i * n + j] = matrix[j * n + i] }
    }
    values = w
    vectors = rowMajor
  }
}

extension SymmetricEigen {
  /// Runs LAPACK `dsyevd` on the column-major n×n `matrix` (overwritten with the eigenvectors
  /// when `vectors`), after the workspace-size query, and returns the ascending eigenvalues.
  static func dsyevd(_ matrix: inout [Double], n: Int, vectors: Bool) throws -> [Double] {
    var w = [Double](repeating: 0, count: n)
    var nn = Int32(n)
    var lda = Int32(n)
    var info: Int32 = 0
    var jobz = Int8(UInt8(ascii: vectors ? "V" : "N"))
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
