import CBLAS
import Foundation

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

  // MARK: - Reproducible kernels

  /// The OpenBLAS kernel set in use ("Haswell", "SkylakeX", "Cooperlake", …).
  ///
  /// Debian's OpenBLAS picks its kernels for the CPU it loads on, and kernels for different
  /// CPUs add in different orders: the same training run gave different models on an AVX-512
  /// machine ("Cooperlake") and an AVX2 one ("Haswell"). `pinnedCoreType` fixes the choice.
  public static var coreName: String { String(cString: openblas_get_corename()) }

  /// The kernel set MedTransfer runs on every x86-64 CPU that can (AVX2 and FMA), so a run
  /// gives the same bits on every such machine. OpenBLAS reads it from `OPENBLAS_CORETYPE`
  /// when the library loads, before `main`; the executable sets it and re-executes itself.
  public static let pinnedCoreType = "Haswell"

  /// Whether this CPU can run the pinned kernels: x86-64 with AVX2 and FMA (from
  /// `/proc/cpuinfo`; false elsewhere, where OpenBLAS keeps its own choice).
  public static var canRunPinnedCoreType: Bool {
    #if arch(x86_64) && os(Linux)
      guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
      else { return false }
      let set = Set(flags.split(separator: " ").map(String.init))
      return set.contains("avx2") && set.contains("fma")
    #else
      return false
    #endif
  }
}
