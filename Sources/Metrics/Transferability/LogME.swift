import Foundation
import LinearAlgebra

/// The LogME transferability score of features for a labelled target task.
public struct LogMEResult: Codable, Sendable, Equatable {
  /// Mean over classes of the per-sample log marginal evidence (higher = more transferable).
  public var score: Double
  /// Per-class evidence / n (one-vs-rest regression target per class).
  public var perClass: [Double]
  /// Fitted prior precision α per class.
  public var alpha: [Double]
  /// Fitted noise precision β per class.
  public var beta: [Double]
  /// Fixed-point iterations used per class.
  public var iterations: [Int]
}

/// LogME (You et al., ICML 2021, "LogME: Practical Assessment of Pre-trained Models for
/// Transfer Learning").
///
/// For each class c the one-hot column y_c is modelled as y = Fw + ε with w ~ N(0, α⁻¹I) and
/// ε ~ N(0, β⁻¹); α and β maximise the evidence by MacKay's fixed point
///   γ = Σ βσᵢ/(α + βσᵢ),  α = γ / mᵀm,  β = (n − γ) / ‖Fm − y‖²,
/// with σᵢ the eigenvalues of FᵀF and m the posterior mean. One eigen-decomposition of the
/// smaller of FᵀF (D×D) or FFᵀ (n×n) serves every class and iteration. The score is the
/// evidence log p(y | F, α, β) / n, averaged over classes. Features are used as given
/// (no standardisation), as in the paper.
public enum LogME {
  /// Settings of the fixed-point iteration.
  public struct Options: Codable, Sendable, Equatable {
    /// Stop when α/β changes by less than this relative amount.
    public var tolerance: Double
    /// Iteration cap.
    public var maxIterations: Int

    /// Defaults: relative tolerance 1e-8, 1000 iterations.
    public init(tolerance: Double = 1e-8, maxIterations: Int = 1000) {
      self.tolerance = tolerance
      self.maxIterations = maxIterations
    }
  }

  /// LogME of `features` (n×D) for class indices `labels` in `0..<classCount`.
  public static func score(
    features: FeatureMatrix, labels: [Int], classCount: Int? = nil, options: Options = Options()
  ) throws -> LogMEResult {
    let n = features.rows
    let dim = features.columns
    guard labels.count == n else {
      throw MetricsError.sizeMismatch(input: "LogME labels", expected: n, actual: labels.count)
    }
    guard n >= 2 else {
      throw MetricsError.tooFewSamples(input: "LogME features", count: n, minimum: 2)
    }
    let k = classCount ?? ((labels.max() ?? 0) + 1)
    if let bad = labels.first(where: { $0 < 0 || $0 >= k }) {
      throw MetricsError.labelOutOfRange(input: "LogME labels", label: bad, classCount: k)
    }
    let f = features.doubles
    // c[i][class] = uᵢᵀ y_c for the orthonormal left singular vectors uᵢ of F; sigma = σᵢ.
    var sigma: [Double]
    var projections: [[Double]]  // per eigen-index i: K values
    do {
      if dim <= n {
        let gram = GaussianDistances.product(f, n, dim, f, n, transposeFirst: true)  // D×D
        let eig = try SymmetricEigen(symmetric: gram, n: dim)
        sigma = eig.values.map { max($0, 0) }
        // z = Vᵀ Fᵀ Y (D×K); cᵢ = zᵢ / √σᵢ.
        var fty = [Double](repeating: 0, count: dim * k)
        for row in 0..<n { for j in 0..<dim { fty[j * k + labels[row]] += f[row * dim + j] } }
        projections = (0..<dim).map { i in
          let s = sigma[i].squareRoot()
          return (0..<k).map { c in
            var z = 0.0
            for j in 0..<dim { z += eig.vectors[j * dim + i] * fty[j * k + c] }
            return s > 1e-12 * max(1, sigma.last ?? 1).squareRoot() ? z / s : 0
          }
        }
      } else {
        let gram = GaussianDistances.product(f, n, dim, f, n, transposeFirst: false)  // n×n
        let eig = try SymmetricEigen(symmetric: gram, n: n)
        sigma = eig.values.map { max($0, 0) }
        projections = (0..<n).map { i in
          var c = [Double](repeating: 0, count: k)
          for row in 0..<n { c[labels[row]] += eig.vectors[row * n + i] }
          return c
        }
      }
    } catch {
      throw MetricsError.numerical(operation: "LogME eigen-decomposition", cause: "\(error)")
    }
    var result = LogMEResult(score: 0, perClass: [], alpha: [], beta: [], iterations: [])
    for c in 0..<k {
      let yNorm2 = Double(labels.filter { $0 == c }.count)
      let cs = projections.map { $0[c] }
      let r = evidence(
        sigma: sigma, c: cs, yNorm2: yNorm2, n: n, dim: dim, options: options)
      result.perClass.append(r.evidence / Double(n))
      result.alpha.append(r.alpha)
      result.beta.append(r.beta)
      result.iterations.append(r.iterations)
    }
    result.score = result.perClass.reduce(0, +) / Double(max(k, 1))
    return result
  }

  /// The fixed point and evidence for one target, in the eigenbasis of FᵀF.
  static func evidence(
    sigma: [Double], c: [Double], yNorm2: Double, n: Int, dim: Int, options: Options
  ) -> (evidence: Double, alpha: Double, beta: Double, iterations: Int) {
    let nd = Double(n)
    let dd = Double(dim)
    let inBasis = c.reduce(0) { $0 + $1 * $1 }
    let outside = max(yNorm2 - inBasis, 0)  // ‖y‖² outside the column space of F
    // z_i = √σᵢ cᵢ; posterior mean mtᵢ = β zᵢ / (α + βσᵢ).
    func state(_ alpha: Double, _ beta: Double) -> (gamma: Double, m2: Double, residual: Double) {
      var gamma = 0.0
      var m2 = 0.0
      var residual = outside
      for i in sigma.indices {
        let s = sigma[i]
        let denom = alpha + beta * s
        gamma += beta * s / denom
        let mt = beta * s.squareRoot() * c[i] / denom
        m2 += mt * mt
        let fit = s.squareRoot() * mt - c[i]
        residual += fit * fit
      }
      return (gamma, m2, residual)
    }
    var alpha = 1.0
    var beta = 1.0
    var iterations = 0
    for _ in 0..<options.maxIterations {
      iterations += 1
      let st = state(alpha, beta)
      let newAlpha = st.gamma / max(st.m2, 1e-300)
      let newBeta = max(nd - st.gamma, 1e-300) / max(st.residual, 1e-300)
      let change = abs(newAlpha / newBeta - alpha / beta) / (alpha / beta)
      alpha = newAlpha
      beta = newBeta
      if change < options.tolerance { break }
    }
    let st = state(alpha, beta)
    var logDet = (dd - Double(sigma.count)) * log(alpha)
    for s in sigma { logDet += log(alpha + beta * s) }
    let evidence =
      0.5 * nd * log(beta) + 0.5 * dd * log(alpha) - 0.5 * nd * log(2 * Double.pi)
      - 0.5 * beta * st.residual - 0.5 * alpha * st.m2 - 0.5 * logDet
    return (evidence, alpha, beta, iterations)
  }
}
