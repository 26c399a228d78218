import Foundation
import Randomness

/// Exact t-SNE (van der Maaten & Hinton 2008) for the source-vs-target embedding picture.
///
/// O(n²) memory and time per iteration (no Barnes–Hut tree): about 2,000 points is the
/// practical limit on two cores. Distances are squared Euclidean in the full feature space
/// (one GEMM); affinities are Gaussian with a per-point bandwidth found by bisection to the
/// requested perplexity, symmetrised as P = (P_{j|i} + P_{i|j}) / 2n. The optimiser is the
/// reference one: early exaggeration, momentum 0.5 → 0.8, delta-bar-delta gains.
public enum TSNE {
  /// Settings of a t-SNE run. All randomness derives from `seed`.
  public struct Options: Codable, Sendable, Equatable {
    /// Effective number of neighbours (clamped to (n − 1)/3).
    public var perplexity: Double
    /// Gradient steps.
    public var iterations: Int
    /// Step size (nil: max(n / early exaggeration / 4, 50), as in openTSNE's "auto").
    public var learningRate: Double?
    /// Factor on P during the first `exaggerationIterations` steps.
    public var earlyExaggeration: Double
    /// Steps with exaggeration (and momentum 0.5).
    public var exaggerationIterations: Int
    /// Seed of the initial layout.
    public var seed: UInt64

    /// Defaults: perplexity 30, 500 iterations, 12× exaggeration for the first 250, seed 0.
    public init(
      perplexity: Double = 30, iterations: Int = 500, learningRate: Double? = nil,
      earlyExaggeration: Double = 12, exaggerationIterations: Int = 250, seed: UInt64 = 0
    ) {
      self.perplexity = perplexity
      self.iterations = iterations
      self.learningRate = learningRate
      self.earlyExaggeration = earlyExaggeration
      self.exaggerationIterations = exaggerationIterations
      self.seed = seed
    }
  }

  /// t-SNE of the pooled source and target rows, split back into the two sides.
  public static func embed(
    source: FeatureMatrix, target: FeatureMatrix, options: Options = Options()
  ) throws -> Projection2D {
    let pooled = try source.stacked(with: target)
    let y = try embed(pooled, options: options)
    let points = (0..<pooled.rows).map { Point2D(x: y[2 * $0], y: y[2 * $0 + 1]) }
    return Projection2D(
      method: "tsne", source: Array(points[0..<source.rows]),
      target: Array(points[source.rows...]), explainedVarianceRatio: [])
  }

  /// t-SNE of the rows of `x`: 2n coordinates (x₀, y₀, x₁, y₁, …).
  public static func embed(_ x: FeatureMatrix, options: Options = Options()) throws -> [Double] {
    let n = x.rows
    guard n >= 4 else {
      throw MetricsError.tooFewSamples(input: "t-SNE rows", count: n, minimum: 4)
    }
    guard options.perplexity > 0, options.iterations >= 0 else {
      throw MetricsError.invalidParameter(
        name: "t-SNE perplexity/iterations", value: "\(options.perplexity)/\(options.iterations)",
        reason: "perplexity must be > 0 and iterations ≥ 0")
    }
    let p = affinities(
      squaredDistances(x), n: n, perplexity: min(options.perplexity, Double(n - 1) / 3))
    var generator = SeededGenerator(seed: options.seed, stream: [0x75e])
    var y = (0..<(2 * n)).map { _ in 1e-4 * generator.normal() }
    var velocity = [Double](repeating: 0, count: 2 * n)
    var gains = [Double](repeating: 1, count: 2 * n)
    var gradient = [Double](repeating: 0, count: 2 * n)
    var q = [Double](repeating: 0, count: n * n)
    let rate = options.learningRate ?? max(Double(n) / options.earlyExaggeration / 4, 50)
    for iteration in 0..<options.iterations {
      let early = iteration < options.exaggerationIterations
      let exaggeration = early ? options.earlyExaggeration : 1
      let momentum = early ? 0.5 : 0.8
      // Student-t kernel q̃_ij = 1/(1 + ‖y_i − y_j‖²) and its sum Z, then
      // ∂C/∂y_i = 4 Σ_j (α p_ij − q̃_ij / Z) q̃_ij (y_i − y_j).
      y.withUnsafeBufferPointer { yp in
        q.withUnsafeMutableBufferPointer { qp in
          p.withUnsafeBufferPointer { pp in
            gradient.withUnsafeMutableBufferPointer { gp in
              var z = 0.0
              for i in 0..<n {
                let yi0 = yp[2 * i]
                let yi1 = yp[2 * i + 1]
                var j = i + 1
                while j < n {
                  let d0 = yi0 - yp[2 * j]
                  let d1 = yi1 - yp[2 * j + 1]
                  let v = 1 / (1 + d0 * d0 + d1 * d1)
                  qp[i * n + j] = v
                  qp[j * n + i] = v
                  z += 2 * v
                  j += 1
                }
              }
              let invZ = 1 / max(z, .leastNormalMagnitude)
              for i in 0..<n {
                var g0 = 0.0
                var g1 = 0.0
                let yi0 = yp[2 * i]
                let yi1 = yp[2 * i + 1]
                let row = i * n
                for j in 0..<n where j != i {
                  let qt = qp[row + j]
                  let m = (exaggeration * pp[row + j] - qt * invZ) * qt
                  g0 += m * (yi0 - yp[2 * j])
                  g1 += m * (yi1 - yp[2 * j + 1])
                }
                gp[2 * i] = 4 * g0
                gp[2 * i + 1] = 4 * g1
              }
            }
          }
        }
      }
      for k in 0..<(2 * n) {
        // Delta-bar-delta: grow the gain while the step keeps its direction.
        gains[k] =
          (gradient[k] > 0) != (velocity[k] > 0) ? gains[k] + 0.2 : max(gains[k] * 0.8, 0.01)
        velocity[k] = momentum * velocity[k] - rate * gains[k] * gradient[k]
        y[k] += velocity[k]
      }
      // Keep the layout centred (the cost is translation invariant).
      var c0 = 0.0
      var c1 = 0.0
      for i in 0..<n {
        c0 += y[2 * i]
        c1 += y[2 * i + 1]
      }
      c0 /= Double(n)
      c1 /= Double(n)
      for i in 0..<n {
        y[2 * i] -= c0
        y[2 * i + 1] -= c1
      }
    }
    return y
  }

  /// n×n squared Euclidean distances of the rows (Gram trick, clamped at 0).
  static func squaredDistances(_ x: FeatureMatrix) -> [Double] {
    let n = x.rows
    let d = x.columns
    let z = x.centered(by: x.columnMeans())
    let g = GaussianDistances.product(z, n, d, z, n, transposeFirst: false)
    var out = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0..<n where j != i {
        out[i * n + j] = max(g[i * n + i] + g[j * n + j] - 2 * g[i * n + j], 0)
      }
    }
    return out
  }

  /// Symmetrised affinities P (n×n, sums to 1) at the given perplexity.
  static func affinities(_ d2: [Double], n: Int, perplexity: Double) -> [Double] {
    let target = log(perplexity)
    var conditional = [Double](repeating: 0, count: n * n)
    var row = [Double](repeating: 0, count: n)
    for i in 0..<n {
      // Bisection on β = 1/(2σ²) in log space; distances are shifted by the nearest one so
      // exp never underflows for every neighbour at once.
      var minimum = Double.infinity
      for j in 0..<n where j != i { minimum = min(minimum, d2[i * n + j]) }
      var lo = -Double.infinity
      var hi = Double.infinity
      var beta = 1.0
      let scale = Descriptive.median((0..<n).filter { $0 != i }.map { d2[i * n + $0] - minimum })
      if scale > 0 { beta = 1 / scale }
      for _ in 0..<100 {
        var sum = 0.0
        var weighted = 0.0
        for j in 0..<n {
          if j == i {
            row[j] = 0
            continue
          }
          let shifted = d2[i * n + j] - minimum
          let v = exp(-beta * shifted)
          row[j] = v
          sum += v
          weighted += v * shifted
        }
        // H = log Σ + β Σ p d (natural log), with the shift cancelling.
        let entropy = log(sum) + beta * weighted / sum
        if abs(entropy - target) < 1e-5 { break }
        if entropy > target {
          lo = beta
          beta = hi.isFinite ? (beta + hi) / 2 : beta * 2
        } else {
          hi = beta
          beta = lo.isFinite ? (beta + lo) / 2 : beta / 2
        }
      }
      let sum = row.reduce(0, +)
      for j in 0..<n { conditional[i * n + j] = sum > 0 ? row[j] / sum : 0 }
    }
    var p = [Double](repeating: 0, count: n * n)
    let norm = 1 / (2 * Double(n))
    for i in 0..<n {
      for j in 0..<n where j != i {
        p[i * n + j] = max((conditional[i * n + j] + conditional[j * n + i]) * norm, 1e-12)
      }
    }
    return p
  }
}
