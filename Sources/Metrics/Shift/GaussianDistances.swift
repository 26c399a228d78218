import LinearAlgebra

/// Distances between Gaussian fits of two feature samples: the Fréchet distance (FID formula)
/// and the CORAL distance between covariances.
///
/// Covariances are unbiased (divide by n − 1), as in numpy's `np.cov` and pytorch-fid.
public enum GaussianDistances {
  /// Fréchet (2-Wasserstein) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂) fitted to the samples:
  /// ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}).
  ///
  /// The trace of the matrix square root is computed from symmetric eigen-decompositions
  /// (LAPACK `dsyevd`), never from a general `sqrtm`, so it is stable for the singular
  /// covariances that n < d features produce. When min(n₁, n₂) < d it is computed in sample
  /// space: with Σᵢ = AᵢᵀAᵢ (Aᵢ the centred rows / √(nᵢ−1)), the eigenvalues of
  /// Σ₁^{1/2} Σ₂ Σ₁^{1/2} are the squared singular values of A₂A₁ᵀ, an n₂×n₁ matrix — exact,
  /// and much cheaper than two d×d decompositions. The result is clamped at 0 against rounding.
  public static func frechet(source: FeatureMatrix, target: FeatureMatrix) throws -> Double {
    let (a, b) = try centeredFactors(source, target, name: "Fréchet distance")
    return try frechet(a, b)
  }

  /// The Fréchet distance between two Gaussians given by their moments.
  ///
  /// `covariance1` and `covariance2` are d×d row-major and symmetric positive semi-definite.
  public static func frechet(
    mean1: [Double], covariance1: [Double], mean2: [Double], covariance2: [Double]
  ) throws -> Double {
    let d = mean1.count
    guard mean2.count == d else {
      throw MetricsError.sizeMismatch(input: "Fréchet mean2", expected: d, actual: mean2.count)
    }
    guard covariance1.count == d * d, covariance2.count == d * d else {
      throw MetricsError.sizeMismatch(
        input: "Fréchet covariance", expected: d * d,
        actual: covariance1.count == d * d ? covariance2.count : covariance1.count)
    }
    var meanTerm = 0.0
    for j in 0..<d { meanTerm += (mean1[j] - mean2[j]) * (mean1[j] - mean2[j]) }
    var trace = 0.0
    for j in 0..<d { trace += covariance1[j * d + j] + covariance2[j * d + j] }
    return max(meanTerm + trace - 2 * (try traceSqrtProduct(covariance1, covariance2, d: d)), 0)
  }

  /// CORAL distance (Sun & Saenko 2016): ‖C_S − C_T‖²_F / (4d²).
  ///
  /// Computed from d×d covariances, or from n×n Gram matrices when n < d, using
  /// ‖AᵀA − BᵀB‖²_F = ‖AAᵀ‖²_F + ‖BBᵀ‖²_F − 2‖ABᵀ‖²_F.
  public static func coral(source: FeatureMatrix, target: FeatureMatrix) throws -> Double {
    let (a, b) = try centeredFactors(source, target, name: "CORAL distance")
    return coral(a, b)
  }

  // MARK: - Internals on centred factors

  /// Centred rows divided by √(n − 1), so that Σ = AᵀA, and the means.
  struct Factor {
    var a: [Double]
    var rows: Int
    var columns: Int
    var mean: [Double]

    init(_ x: FeatureMatrix) {
      rows = x.rows
      columns = x.columns
      mean = x.columnMeans()
      a = x.centered(by: mean)
      let s = 1 / Double(max(rows - 1, 1)).squareRoot()
      for i in 0..<a.count { a[i] *= s }
    }

    /// ‖A‖²_F = Tr Σ.
    var trace: Double { a.reduce(0) { $0 + $1 * $1 } }

    /// Σ = AᵀA, d×d.
    func covariance() -> [Double] { product(a, rows, columns, a, rows, transposeFirst: true) }
  }

  static func centeredFactors(_ s: FeatureMatrix, _ t: FeatureMatrix, name: String) throws
    -> (Factor, Factor)
  {
    guard s.rows >= 2 else {
      throw MetricsError.tooFewSamples(input: "\(name) source", count: s.rows, minimum: 2)
    }
    guard t.rows >= 2 else {
      throw MetricsError.tooFewSamples(input: "\(name) target", count: t.rows, minimum: 2)
    }
    guard s.columns == t.columns else {
      throw MetricsError.sizeMismatch(
        input: "\(name) target feature dimension", expected: s.columns, actual: t.columns)
    }
    return (Factor(s), Factor(t))
  }

  static func frechet(_ f1: Factor, _ f2: Factor) throws -> Double {
    let d = f1.columns
    var meanTerm = 0.0
    for j in 0..<d { meanTerm += (f1.mean[j] - f2.mean[j]) * (f1.mean[j] - f2.mean[j]) }
    let nuclear: Double
    if min(f1.rows, f2.rows) < d {
      // Eigenvalues of (A₂A₁ᵀ)(A₂A₁ᵀ)ᵀ (or the transpose product, whichever is smaller).
      let (small, large) = f1.rows <= f2.rows ? (f1, f2) : (f2, f1)
      let m = product(small.a, small.rows, d, large.a, large.rows, transposeFirst: false)  // s×l
      let mmT = product(m, small.rows, large.rows, m, small.rows, transposeFirst: false)
      nuclear = try eigenvalueSqrtSum(symmetrized(mmT, small.rows), small.rows)
    } else {
      nuclear = try traceSqrtProduct(f1.covariance(), f2.covariance(), d: d)
    }
    // The distance is ≥ 0 exactly; rounding in the eigenvalues can leave −1e-9·trace.
    return max(meanTerm + f1.trace + f2.trace - 2 * nuclear, 0)
  }

  static func coral(_ f1: Factor, _ f2: Factor) -> Double {
    let d = f1.columns
    if d == 0 { return 0 }
    func frobenius2(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 } }
    let value: Double
    if f1.rows + f2.rows < 2 * d {
      let ss = product(f1.a, f1.rows, d, f1.a, f1.rows, transposeFirst: false)
      let tt = product(f2.a, f2.rows, d, f2.a, f2.rows, transposeFirst: false)
      let st = product(f1.a, f1.rows, d, f2.a, f2.rows, transposeFirst: false)
      value = frobenius2(ss) + frobenius2(tt) - 2 * frobenius2(st)
    } else {
      let c1 = f1.covariance()
      let c2 = f2.covariance()
      var s = 0.0
      for i in 0..<c1.count { s += (c1[i] - c2[i]) * (c1[i] - c2[i]) }
      value = s
    }
    return max(value, 0) / (4 * Double(d) * Double(d))
  }

  /// Tr((Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}) for d×d PSD matrices.
  static func traceSqrtProduct(_ c1: [Double], _ c2: [Double], d: Int) throws -> Double {
    if d == 0 { return 0 }
    let eig: SymmetricEigen
    do { eig = try SymmetricEigen(symmetric: symmetrized(c1, d), n: d) } catch {
      throw MetricsError.numerical(
        operation: "eigen-decomposition of the source covariance", cause: "\(error)")
    }
    // S = V diag(√max(w, 0)) Vᵀ
    var vs = eig.vectors
    for i in 0..<d {
      for j in 0..<d { vs[i * d + j] *= max(eig.values[j], 0).squareRoot() }
    }
    let sqrt1 = multiply(vs, d, d, eig.vectors, d, transposeB: true)
    let middle = multiply(
      multiply(sqrt1, d, d, c2, d, transposeB: false), d, d, sqrt1, d, transposeB: false)
    return try eigenvalueSqrtSum(symmetrized(middle, d), d)
  }

  static func eigenvalueSqrtSum(_ m: [Double], _ n: Int) throws -> Double {
    let values: [Double]
    do { values = try SymmetricEigen.eigenvalues(symmetric: m, n: n) } catch {
      throw MetricsError.numerical(
        operation: "eigenvalues for the matrix square root", cause: "\(error)")
    }
    return values.reduce(0) { $0 + max($1, 0).squareRoot() }
  }

  static func symmetrized(_ m: [Double], _ n: Int) -> [Double] {
    var out = m
    for i in 0..<n {
      for j in (i + 1)..<max(n, i + 1) {
        let v = 0.5 * (m[i * n + j] + m[j * n + i])
        out[i * n + j] = v
        out[j * n + i] = v
      }
    }
    return out
  }

  /// Xᵀ·Y (transposeFirst; X: r×c, Y: r×c2 → c×c2) or X·Yᵀ (X: r×c, Y: r2×c → r×r2).
  static func product(
    _ x: [Double], _ r: Int, _ c: Int, _ y: [Double], _ other: Int, transposeFirst: Bool
  ) -> [Double] {
    if transposeFirst {
      // x: (r, c), y: (r, c2) with c2 = y.count / r
      let c2 = r == 0 ? 0 : y.count / r
      var out = [Double](repeating: 0, count: c * c2)
      if r == 0 || c == 0 || c2 == 0 { return out }
      x.withUnsafeBufferPointer { xp in
        y.withUnsafeBufferPointer { yp in
          out.withUnsafeMutableBufferPointer { op in
            BLAS.dgemm(
              .transpose, .none, m: c, n: c2, k: r, a: xp.baseAddress!, lda: c,
              b: yp.baseAddress!, ldb: c2, c: op.baseAddress!, ldc: c2)
          }
        }
      }
      return out
    }
    // x: (r, c), y: (other, c) -> (r, other)
    var out = [Double](repeating: 0, count: r * other)
    if r == 0 || other == 0 || c == 0 { return out }
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeBufferPointer { yp in
        out.withUnsafeMutableBufferPointer { op in
          BLAS.dgemm(
            .none, .transpose, m: r, n: other, k: c, a: xp.baseAddress!, lda: c,
            b: yp.baseAddress!, ldb: c, c: op.baseAddress!, ldc: other)
        }
      }
    }
    return out
  }

  /// A (r×k) · op(B), where B is k×c (or c×k when transposeB).
  static func multiply(
    _ a: [Double], _ r: Int, _ k: Int, _ b: [Double], _ c: Int, transposeB: Bool
  ) -> [Double] {
    var out = [Double](repeating: 0, count: r * c)
    a.withUnsafeBufferPointer { ap in
      b.withUnsafeBufferPointer { bp in
        out.withUnsafeMutableBufferPointer { op in
          BLAS.dgemm(
            .none, transposeB ? .transpose : .none, m: r, n: c, k: k, a: ap.baseAddress!, lda: k,
            b: bp.baseAddress!, ldb: transposeB ? k : c, c: op.baseAddress!, ldc: c)
        }
      }
    }
    return out
  }
}
