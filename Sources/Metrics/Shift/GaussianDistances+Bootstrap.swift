import LinearAlgebra
import Randomness

/// Fréchet and CORAL distances with bootstrap intervals.
public struct CovarianceDistances: Codable, Sendable, Equatable {
  /// Fréchet distance between Gaussian fits.
  public var frechet: Estimate
  /// CORAL distance.
  public var coral: Estimate
}

extension GaussianDistances {
  /// Fréchet and CORAL distances with bias-shifted percentile bootstrap intervals, from
  /// resampling each sample with replacement.
  ///
  /// Why not the plain percentile interval: both distances are plug-in functions of covariance
  /// estimates and carry a positive small-sample bias of order d/n (well known for FID). A
  /// resample has only ≈ 63 % distinct rows, so its bias is larger still and the replicates can
  /// lie entirely above the estimate. The interval reported is the percentile interval moved by
  /// the bootstrap bias estimate (median of the replicates − θ̂):
  /// [q_α/₂ − med* + θ̂, q₁₋α/₂ − med* + θ̂], clamped at 0. It describes the sampling
  /// variability of θ̂; it does not remove θ̂'s own bias, so compare distances between sample
  /// pairs of similar sizes.
  ///
  /// When n₁ + n₂ ≤ 4000 and n₁ + n₂ < 2d, every replicate is computed from the pooled Gram
  /// matrix (computed once) with multiplicity weights — O((n₁+n₂)²) plus one eigenvalue
  /// problem of the distinct-row count per replicate, instead of refitting d×d covariances.
  public static func distancesWithIntervals(
    source: FeatureMatrix, target: FeatureMatrix, bootstrap: Bootstrap.Plan
  ) throws -> CovarianceDistances {
    let (fs, ft) = try centeredFactors(source, target, name: "Fréchet/CORAL distance")
    let frechetValue = try frechet(fs, ft)
    let coralValue = coral(fs, ft)
    guard bootstrap.replicates > 0 else {
      return CovarianceDistances(
        frechet: Estimate(value: frechetValue, interval: nil),
        coral: Estimate(value: coralValue, interval: nil))
    }
    let n1 = source.rows
    let n2 = target.rows
    let gram: WeightedGram? =
      (n1 + n2 <= 4000 && n1 + n2 < 2 * source.columns) ? try WeightedGram(source, target) : nil
    var generator = SeededGenerator(seed: bootstrap.seed, stream: [0xc0fa])
    var frechetReps = [Double]()
    var coralReps = [Double]()
    for _ in 0..<bootstrap.replicates {
      let i = Bootstrap.resample(n1, using: &generator)
      let j = Bootstrap.resample(n2, using: &generator)
      if let gram {
        let r = try gram.distances(sourceIndices: i, targetIndices: j)
        frechetReps.append(r.frechet)
        coralReps.append(r.coral)
      } else {
        let a = Factor(source.selecting(rows: i))
        let b = Factor(target.selecting(rows: j))
        frechetReps.append(try frechet(a, b))
        coralReps.append(coral(a, b))
      }
    }
    func basic(_ value: Double, _ reps: [Double]) -> ConfidenceInterval? {
      guard let p = Bootstrap.percentileInterval(reps, level: bootstrap.level) else { return nil }
      let bias = Descriptive.median(reps.filter(\.isFinite)) - value
      return ConfidenceInterval(
        lower: max(0, p.lower - bias), upper: max(0, p.upper - bias),
        level: bootstrap.level, method: "bias-shifted " + p.method)
    }
    return CovarianceDistances(
      frechet: Estimate(value: frechetValue, interval: basic(frechetValue, frechetReps)),
      coral: Estimate(value: coralValue, interval: basic(coralValue, coralReps)))
  }

  /// The pooled Gram matrix of source and target rows, from which weighted (bootstrap)
  /// Fréchet and CORAL distances follow without touching the d-dimensional features again.
  struct WeightedGram {
    let n1: Int, n2: Int, total: Int, d: Int
    /// total×total Gram matrix of the pooled rows (centred by the pooled mean; any common
    /// shift cancels because each replicate re-centres).
    let g: [Double]

    init(_ source: FeatureMatrix, _ target: FeatureMatrix) throws {
      let pooled = try source.stacked(with: target)
      let total = pooled.rows
      n1 = source.rows
      n2 = target.rows
      self.total = total
      d = source.columns
      let z = pooled.centered(by: pooled.columnMeans())
      g = GaussianDistances.product(z, total, d, z, total, transposeFirst: false)
    }

    /// Distances for the resample given by row indices (repeats allowed) of each sample.
    func distances(sourceIndices: [Int], targetIndices: [Int]) throws
      -> (frechet: Double, coral: Double)
    {
      var ws = [Double](repeating: 0, count: n1)
      var wt = [Double](repeating: 0, count: n2)
      for i in sourceIndices { ws[i] += 1 }
      for j in targetIndices { wt[j] += 1 }
      let ns = Double(sourceIndices.count)
      let nt = Double(targetIndices.count)
      let sIdx = (0..<n1).filter { ws[$0] > 0 }
      let tIdx = (0..<n2).filter { wt[$0] > 0 }
      // gs[b] = μ_s·z_b and gt[b] = μ_t·z_b for every pooled row b.
      var gs = [Double](repeating: 0, count: total)
      var gt = [Double](repeating: 0, count: total)
      g.withUnsafeBufferPointer { gp in
        for i in sIdx {
          let w = ws[i] / ns
          let row = i * total
          for b in 0..<total { gs[b] += w * gp[row + b] }
        }
        for j in tIdx {
          let w = wt[j] / nt
          let row = (n1 + j) * total
          for b in 0..<total { gt[b] += w * gp[row + b] }
        }
      }
      var ss = 0.0
      var tt = 0.0
      var st = 0.0
      var diagS = 0.0
      var diagT = 0.0
      for i in sIdx {
        ss += ws[i] * gs[i] / ns
        st += ws[i] * gt[i] / ns
        diagS += ws[i] * g[i * total + i]
      }
      for j in tIdx {
        tt += wt[j] * gt[n1 + j] / nt
        diagT += wt[j] * g[(n1 + j) * total + n1 + j]
      }
      let traceS = (diagS - ns * ss) / (ns - 1)
      let traceT = (diagT - nt * tt) / (nt - 1)
      let meanTerm = ss + tt - 2 * st
      // Weighted centred cross products, scaled so that M·Mᵀ has the eigenvalues of
      // Σ_s^{1/2} Σ_t Σ_s^{1/2}.
      let crossScale = 1 / ((ns - 1) * (nt - 1)).squareRoot()
      var m = [Double](repeating: 0, count: sIdx.count * tIdx.count)
      var crossF2 = 0.0
      for (a, i) in sIdx.enumerated() {
        let row = i * total
        for (b, j) in tIdx.enumerated() {
          let c = g[row + n1 + j] - gt[i] - gs[n1 + j] + st
          let v = (ws[i] * wt[j]).squareRoot() * c * crossScale
          m[a * tIdx.count + b] = v
          crossF2 += v * v
        }
      }
      func selfF2(
        _ idx: [Int], _ w: [Double], offset: Int, _ gm: [Double], _ mm: Double, _ n: Double
      )
        -> Double
      {
        var s = 0.0
        for i in idx {
          let row = (offset + i) * total
          for j in idx {
            let c = g[row + offset + j] - gm[offset + j] - gm[offset + i] + mm
            s += w[i] * w[j] * c * c
          }
        }
        return s / ((n - 1) * (n - 1))
      }
      let coralValue =
        max(
          selfF2(sIdx, ws, offset: 0, gs, ss, ns) + selfF2(tIdx, wt, offset: n1, gt, tt, nt)
            - 2 * crossF2, 0) / (4 * Double(d) * Double(d))
      let rows = sIdx.count
      let cols = tIdx.count
      let mmT: [Double]
      let k: Int
      if rows <= cols {
        mmT = GaussianDistances.product(m, rows, cols, m, rows, transposeFirst: false)
        k = rows
      } else {
        mmT = GaussianDistances.product(m, rows, cols, m, cols, transposeFirst: true)
        k = cols
      }
      let nuclear = try GaussianDistances.eigenvalueSqrtSum(
        GaussianDistances.symmetrized(mmT, k), k)
      return (max(meanTerm + traceS + traceT - 2 * nuclear, 0), coralValue)
    }
  }
}
