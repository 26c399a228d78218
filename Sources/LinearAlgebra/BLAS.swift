import CBLAS

/// Thin, typed wrappers over OpenBLAS's CBLAS and LAPACK routines.
///
/// All matrices are row-major `Float` (or `Double`) buffers unless a function
/// says otherwise. This is the only module that imports `CBLAS`; `Neural` and
/// `Metrics` both reach BLAS through it.
public enum BLAS {
  /// Whether a matrix operand is used as stored or transposed.
  public enum Transpose: Sendable {
    case none, transpose
    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
  }

  /// C = alpha · op(A) · op(B) + beta · C, row-major (`cblas_sgemm`).
  ///
  /// `op(A)` is m×k, `op(B)` is k×n, `C` is m×n. `lda`, `ldb`, `ldc` are the row strides of
  /// the matrices as stored.

  public static func sgemm(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    cblas_sgemm(
      CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k), alpha, a,
      Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// C = alpha · op(A) · op(B) + beta · C in double precision, row-major (`cblas_dgemm`).

  public static func dgemm(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Double = 1,
    a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int, beta: Double = 0,
    c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    cblas_dgemm(
      CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k), alpha, a,
      Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// Number of threads OpenBLAS uses for one call.
  public static var threads: Int {
    get { Int(openblas_get_num_threads()) }
    set { openblas_set_num_threads(Int32(newValue)) }
  }
}
