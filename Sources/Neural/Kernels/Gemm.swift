// Gemm: matrix products for the layers, split over `Parallel.workers` by rows.
//
//   gemm(transA:transB:m:n:k:a:lda:b:ldb:beta:c:ldc:)   C = op(A)·op(B) (+ beta·C), rows of C
//                                                        in up to 4 parts fixed by the shape,
//                                                        spread over the workers.
//   gemmReduceRows(...)                                  C += Aᵀ·B over many rows of A and B,
//                                                        in a fixed number of row blocks.
//
// Each worker calls single-threaded OpenBLAS on its own rows (`Gemm.strategy = .splitRows`,
// the default), so GEMM and the other kernels use the same two workers and nothing spins:
// OpenBLAS's own threads busy-wait at barriers and lost 2-4x to that when the machine was
// shared. `.openblasThreads` hands whole products to OpenBLAS with `Parallel.workers` threads.

import Dispatch
import LinearAlgebra
import Randomness

/// How the layers parallelise matrix products.
public enum Gemm {
  /// The two ways to use both cores for a GEMM.
  public enum Strategy: Sendable {
    /// Split rows over `Parallel.workers`, single-threaded OpenBLAS per worker.
    case splitRows
    /// One OpenBLAS call with `Parallel.workers` OpenBLAS threads.
    case openblasThreads
  }

  /// The current strategy (default `.splitRows`; `NEURAL_GEMM=openblas` selects the other).
  public static var strategy: Strategy = {
    let env = getenv("NEURAL_GEMM").map { String(cString: $0) }
    return env == "openblas" ? .openblasThreads : .splitRows
  }()

  /// Rows per part below which splitting does not pay.
  static let minimumRowsPerPart = 64
  /// At most this many row parts per product. The split depends on the product's shape only,
  /// never on the worker count: OpenBLAS rounds a row differently in products of different
  /// heights, so splitting by workers made a one-worker run and a two-worker run differ in the
  /// last bits (and then in everything trained from them).
  static let maximumRowParts = 4

  static func configureThreads() {
    let wanted = strategy == .splitRows ? 1 : Parallel.workers
    if BLAS.threads != wanted { BLAS.threads = wanted }
  }
}

#if canImport(Glibc)
  import Glibc
#endif

/// C (m × n) = op(A)·op(B) + beta·C with the rows of C split across workers. `transA` must be
/// `.none` (rows of C are rows of A).
func gemm(
  _ transB: BLAS.Transpose, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
  b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  Gemm.configureThreads()
  let parts =
    Gemm.strategy == .splitRows
    ? Swift.max(1, Swift.min(Gemm.maximumRowParts, m / Gemm.minimumRowsPerPart)) : 1
  if parts == 1 {
    BLAS.sgemm(
      .none, transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    return
  }
  Parallel.forEach(parts) { part in
    let rows = Parallel.range(part, of: parts, total: m)
    BLAS.sgemm(
      .none, transB, m: rows.count, n: n, k: k, a: a + rows.lowerBound * lda, lda: lda, b: b,
      ldb: ldb, beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
  }
}

/// C (k × n) += Aᵀ·B where A is (rows × k) and B is (rows × n): a reduction over rows, done in
/// two fixed row blocks (independent of the worker count) added in order. `scratch` holds k·n.
func gemmReduceRows(
  rows: Int, k: Int, n: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
  ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, scratch: Tensor
) {
  Gemm.configureThreads()
  if Gemm.strategy == .openblasThreads || rows < 2 * Gemm.minimumRowsPerPart {
    BLAS.sgemm(
      .transpose, .none, m: k, n: n, k: rows, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c,
      ldc: ldc)
    return
  }
  scratch.reshape([k, n])
  let half = rows / 2
  let body: (Int) -> Void = { part in
    if part == 0 {
      BLAS.sgemm(
        .transpose, .none, m: k, n: n, k: half, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c,
        ldc: ldc)
    } else {
      BLAS.sgemm(
        .transpose, .none, m: k, n: n, k: rows - half, a: a + half * lda, lda: lda,
        b: b + half * ldb, ldb: ldb, beta: 0, c: scratch.data, ldc: n)
    }
  }
  if Parallel.workers > 1 {
    DispatchQueue.concurrentPerform(iterations: 2, execute: body)
  } else {
    body(0)
    body(1)
  }
  for r in 0..<k { addInPlace(c + r * ldc, scratch.data + r * n, n) }
}

// MARK: - Peak

extension Gemm {
  /// Measures this machine's SGEMM rate (GFLOP/s) on square `size`² matrices with the current
  /// strategy and `Parallel.workers` (best of `repeats` products): the ceiling the layers' GEMMs
  /// are compared with in `medtransfer bench`.
  public static func measurePeak(size: Int = 1024, repeats: Int = 6) -> Double {
    let a = Tensor(shape: [size, size])
    let b = Tensor(shape: [size, size])
    let c = Tensor(shape: [size, size])
    var g = SeededGenerator(seed: 1)
    for i in 0..<a.count {
      a[i] = g.uniformFloat(-1, 1)
      b[i] = g.uniformFloat(-1, 1)
    }
    var best = Double.infinity
    for _ in 0..<repeats {
      let t0 = now()
      gemm(
        .none, m: size, n: size, k: size, a: a.data, lda: size, b: b.data, ldb: size, c: c.data,
        ldc: size)
      best = Swift.min(best, now() - t0)
    }
    return 2 * Double(size * size * size) / best / 1e9
  }
}
