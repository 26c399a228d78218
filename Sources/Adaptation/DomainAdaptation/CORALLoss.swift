import Neural

/// Deep CORAL (Sun & Saenko 2016): ℓ = 1/(4d²) · ‖C_S − C_T‖²_F between the covariance
/// matrices of source and target features, with forward and backward side by side.
///
/// C = 1/(n−1) · (XᵀX − (1ᵀX)ᵀ(1ᵀX)/n), as the paper and its reference code define it.
/// Computed in Double: d is the penultimate width (1280 for EfficientNet-Lite0), so the d×d
/// covariance is small next to the backbone, and float32 cancellation in XᵀX − μμᵀ·n would
/// swamp the gradient check.
public enum CORALLoss {
  /// The loss and its gradients with respect to both feature matrices.
  public struct Result {
    /// ℓ.
    public var loss: Double
    /// dℓ/dX_S, shape (n_S, d).
    public var sourceGradient: [Float]
    /// dℓ/dX_T, shape (n_T, d).
    public var targetGradient: [Float]
  }

  /// Computes the loss for source features `xs` (nS × d, row-major) and target features `xt`
  /// (nT × d), and its gradients.
  ///
  /// dℓ/dX = ±1/(d²(n−1)) · (X − 1μᵀ)(C_S − C_T), + for the source, − for the target.
  public static func compute(
    source xs: [Float], sourceCount nS: Int,
    target xt: [Float], targetCount nT: Int, dimension d: Int
  ) -> Result {
    precondition(nS >= 2 && nT >= 2, "CORAL needs at least two source and two target rows.")
    precondition(
      xs.count == nS * d && xt.count == nT * d,
      "CORAL features must be (n, \(d)); got \(xs.count) and \(xt.count) values.")
    let (cs, ms) = covariance(xs, n: nS, d: d)
    let (ct, mt) = covariance(xt, n: nT, d: d)
    var diff = [Double](repeating: 0, count: d * d)
    var norm2 = 0.0
    for i in 0..<(d * d) {
      diff[i] = cs[i] - ct[i]
      norm2 += diff[i] * diff[i]
    }
    let dd = Double(d * d)
    let loss = norm2 / (4 * dd)
    let gs = centeredTimes(
      xs, mean: ms, n: nS, d: d, matrix: diff, scale: 1 / (dd * Double(nS - 1)))
    let gt = centeredTimes(
      xt, mean: mt, n: nT, d: d, matrix: diff,
      scale: -1 / (dd * Double(nT - 1)))
    return Result(loss: loss, sourceGradient: gs, targetGradient: gt)
  }

  /// Convenience over (N, D) tensors.
  public static func compute(source: Tensor, target: Tensor) -> Result {
    precondition(
      source.shape.count == 2 && target.shape.count == 2
        && source.shape[1] == target.shape[1],
      "CORAL needs (n, d) feature tensors of equal width; got \(source.shape) and \(target.shape).")
    return compute(
      source: source.array, sourceCount: source.shape[0], target: target.array,
      targetCount: target.shape[0], dimension: source.shape[1])
  }

  // C = (X − 1μᵀ)ᵀ(X − 1μᵀ)/(n − 1), symmetric, d × d.
  static func covariance(_ x: [Float], n: Int, d: Int) -> (cov: [Double], mean: [Double]) {
    var mean = [Double](repeating: 0, count: d)
    for r in 0..<n { for c in 0..<d { mean[c] += Double(x[r * d + c]) } }
    for c in 0..<d { mean[c] /= Double(n) }
    var cov = [Double](repeating: 0, count: d * d)
    var row = [Double](repeating: 0, count: d)
    for r in 0..<n {
      for c in 0..<d { row[c] = Double(x[r * d + c]) - mean[c] }
      for i in 0..<d {
        let ri = row[i]
        if ri == 0 { continue }
        for j in i..<d { cov[i * d + j] += ri * row[j] }
      }
    }
    let s = 1 / Double(n - 1)
    for i in 0..<d {
      for j in i..<d {
        let v = cov[i * d + j] * s
        cov[i * d + j] = v
        cov[j * d + i] = v
      }
    }
    return (cov, mean)
  }

  // scale · (X − 1μᵀ) · M, (n × d).
  static func centeredTimes(
    _ x: [Float], mean: [Double], n: Int, d: Int, matrix m: [Double],
    scale: Double
  ) -> [Float] {
    var out = [Float](repeating: 0, count: n * d)
    var row = [Double](repeating: 0, count: d)
    var acc = [Double](repeating: 0, count: d)
    for r in 0..<n {
      for c in 0..<d {
        row[c] = Double(x[r * d + c]) - mean[c]
        acc[c] = 0
      }
      for k in 0..<d {
        let rk = row[k]
        if rk == 0 { continue }
        for j in 0..<d { acc[j] += rk * m[k * d + j] }
      }
      for c in 0..<d { out[r * d + c] = Float(acc[c] * scale) }
    }
    return out
  }
}
