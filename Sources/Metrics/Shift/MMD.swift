import Foundation
import LinearAlgebra
import Randomness

/// Result of a two-sample MMD test between source and target features.
public struct MMDResult: Codable, Sendable, Equatable {
  /// The unbiased estimate of MMD² (can be slightly negative when the samples agree).
  public var mmd2: Double
  /// RBF bandwidth σ used in k(x, y) = exp(−‖x − y‖² / (2σ²)).
  public var bandwidth: Double
  /// Permutation p-value (1 + #{MMD²_perm ≥ MMD²_obs}) / (1 + B).
  public var pValue: Double
  /// Number of permutations B.
  public var permutations: Int
  /// Percentile bootstrap interval of MMD² (each sample resampled separately), if requested.
  public var interval: ConfidenceInterval?
  /// Source sample size.
  public var sourceCount: Int
  /// Target sample size.
  public var targetCount: Int
  /// What the permutations and the bootstrap exchange: "image" (rows independent) or
  /// "cluster" (whole patients).
  public var permutationUnit: String
  /// Clusters (patients) in the source and target, when clustered.
  public var sourceClusters: Int?
  public var targetClusters: Int?
}

/// Maximum mean discrepancy (Gretton et al. 2012) with an RBF kernel.
///
/// The bandwidth is the median heuristic: σ = median pairwise Euclidean distance of the pooled
/// sample (pairs i < j). The estimator is the unbiased U-statistic
/// MMD²ᵤ = Σ_{i≠j} k(xᵢ,xⱼ)/(n(n−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m−1)) − 2 Σ k(xᵢ,yⱼ)/(nm).
///
/// Cost: one (n+m)×(n+m)×d GEMM for the distances, then every permutation and bootstrap
/// replicate is a quadratic form in the fixed pooled kernel matrix, evaluated in batches with
/// GEMM — so B permutations cost B·(n+m)² multiply-adds, never a kernel recomputation.
/// Memory: 3 (n+m)² doubles (≈ 100 MB at n = m = 2000).
public enum MMD {
  /// Settings of the MMD test.
  public struct Options: Sendable {
    /// Number of permutations B for the p-value (0 gives p = 1 and no test).
    public var permutations: Int
    /// Seed of the permutation generator.
    public var seed: UInt64
    /// Fixed bandwidth σ; nil uses the median heuristic.
    public var bandwidth: Double?
    /// Bootstrap plan for the interval of MMD² (replicates 0 disables it).
    public var bootstrap: Bootstrap.Plan
    /// Cluster (patient) of each source row and each target row, or nil for independent rows.
    /// With clusters, permutations relabel whole clusters (keeping each side's cluster count)
    /// and the bootstrap resamples clusters, so slices of one patient — which are not
    /// independent — never make the test anti-conservative. Clusters of the two sides are
    /// distinct even if their names coincide.
    public var clusters: (source: [String], target: [String])?
    /// Stratum (e.g. class label) of each source row and each target row, or nil. With strata,
    /// a permutation exchanges units (rows, or clusters: a cluster's stratum is that of its
    /// first row) only within a stratum, keeping each side's count of units per stratum. Use it
    /// when both samples were drawn per class (a class-balanced design): relabelling across
    /// classes then unbalances the permuted groups, which inflates their MMD² and makes the
    /// plain test conservative (p near 1 under the null; no rejections at α = 0.05 in the
    /// calibration test). The null becomes "same distribution within each stratum".
    public var strata: (source: [Int], target: [Int])?

    /// Defaults: B = 1000 permutations, seed 0, median heuristic, 1000 bootstrap replicates.
    public init(
      permutations: Int = 1000, seed: UInt64 = 0, bandwidth: Double? = nil,
      bootstrap: Bootstrap.Plan = Bootstrap.Plan(),
      clusters: (source: [String], target: [String])? = nil,
      strata: (source: [Int], target: [Int])? = nil
    ) {
      self.clusters = clusters
      self.strata = strata
      self.permutations = permutations
      self.seed = seed
      self.bandwidth = bandwidth
      self.bootstrap = bootstrap
    }
  }

  /// Runs the MMD two-sample test of `source` against `target`.
  public static func test(
    source: FeatureMatrix, target: FeatureMatrix, options: Options = Options()
  ) throws -> MMDResult {
    let n = source.rows
    let m = target.rows
    guard n >= 2 else {
      throw MetricsError.tooFewSamples(input: "MMD source", count: n, minimum: 2)
    }
    guard m >= 2 else {
      throw MetricsError.tooFewSamples(input: "MMD target", count: m, minimum: 2)
    }
    guard options.permutations >= 0 else {
      throw MetricsError.invalidParameter(
        name: "permutations", value: "\(options.permutations)", reason: "must be ≥ 0")
    }
    let pooled = try source.stacked(with: target)
    let distances = PooledDistances(pooled)
    var sigma: Double
    if let fixed = options.bandwidth {
      guard fixed > 0, fixed.isFinite else {
        throw MetricsError.invalidParameter(
          name: "bandwidth", value: "\(fixed)", reason: "must be a positive number")
      }
      sigma = fixed
    } else {
      sigma = distances.medianSquaredDistance().squareRoot()
      // All pairs at distance 0 (e.g. constant features): any bandwidth gives MMD² = 0.
      if !(sigma > 0) { sigma = 1 }
    }
    var kernel = PooledKernel(distances: distances, sigma: sigma, sourceCount: n)
    if let c = options.clusters {
      guard c.source.count == n, c.target.count == m else {
        throw MetricsError.sizeMismatch(
          input: "MMD clusters", expected: n + m, actual: c.source.count + c.target.count)
      }
      kernel.clusters = PooledKernel.Clusters(source: c.source, target: c.target)
    }
    if let st = options.strata {
      guard st.source.count == n, st.target.count == m else {
        throw MetricsError.sizeMismatch(
          input: "MMD strata", expected: n + m, actual: st.source.count + st.target.count)
      }
      kernel.strata = PooledKernel.Strata(rowStrata: st.source + st.target, kernel: kernel)
    }
    let observed = kernel.mmd2()
    let b = options.permutations
    var exceed = 0
    if b > 0 {
      let stats = kernel.permutationStatistics(count: b, seed: options.seed)
      // Tiny tolerance so that a permutation equal to the observed split (up to rounding in a
      // different summation order) counts as ≥.
      let tolerance = 1e-12 * max(1, abs(observed))
      exceed = stats.reduce(0) { $0 + ($1 >= observed - tolerance ? 1 : 0) }
    }
    var interval: ConfidenceInterval?
    if options.bootstrap.replicates > 0 {
      let reps = kernel.bootstrapStatistics(
        count: options.bootstrap.replicates, seed: options.bootstrap.seed)
      interval = Bootstrap.percentileInterval(reps, level: options.bootstrap.level)
    }
    return MMDResult(
      mmd2: observed, bandwidth: sigma, pValue: Double(1 + exceed) / Double(1 + b),
      permutations: b, interval: interval, sourceCount: n, targetCount: m,
      permutationUnit: (kernel.clusters == nil ? "image" : "cluster")
        + (kernel.strata == nil ? "" : " within stratum"),
      sourceClusters: kernel.clusters?.sourceCount, targetClusters: kernel.clusters?.targetCount)
  }

  /// The unbiased MMD² with a fixed RBF bandwidth σ (no test, no interval).
  public static func unbiasedMMD2(
    source: FeatureMatrix, target: FeatureMatrix, bandwidth sigma: Double
  ) throws -> Double {
    guard source.rows >= 2, target.rows >= 2 else {
      throw MetricsError.tooFewSamples(
        input: "MMD source/target", count: min(source.rows, target.rows), minimum: 2)
    }
    let pooled = try source.stacked(with: target)
    return PooledKernel(distances: PooledDistances(pooled), sigma: sigma, sourceCount: source.rows)
      .mmd2()
  }
}

/// The pooled RBF kernel matrix with a zero diagonal, and the quadratic forms the test needs.
struct PooledKernel {
  let total: Int
  let n: Int
  let m: Int
  /// (n+m)² kernel values, diagonal set to 0 so sums over i ≠ j are plain sums.
  var k0: [Double]
  /// Row sums of k0.
  var rowSums: [Double]
  /// Sum of all of k0.
  var grandSum: Double
  /// Row clusters, when rows are not independent.
  var clusters: Clusters?
  /// Permutation strata, when units may change sides only within a stratum.
  var strata: Strata?

  /// Permutation units (clusters, or rows) grouped by stratum, with how many of each
  /// stratum's units the source holds.
  struct Strata {
    var units: [[Int]]
    var sourceUnits: [Int]

    init(units: [[Int]], sourceUnits: [Int]) {
      self.units = units
      self.sourceUnits = sourceUnits
    }

    /// From each pooled row's stratum (source rows first); units are `kernel`'s clusters, or
    /// rows when it has none.
    init(rowStrata: [Int], kernel: PooledKernel) {
      let clusters = kernel.clusters
      let sourceUnitCount = clusters?.sourceCount ?? kernel.n
      var index: [Int: Int] = [:]
      var units: [[Int]] = []
      var sourceUnits: [Int] = []
      for u in 0..<(clusters?.rows.count ?? kernel.total) {
        let stratum = rowStrata[clusters?.rows[u][0] ?? u]
        let k: Int
        if let existing = index[stratum] {
          k = existing
        } else {
          k = units.count
          index[stratum] = k
          units.append([])
          sourceUnits.append(0)
        }
        units[k].append(u)
        if u < sourceUnitCount { sourceUnits[k] += 1 }
      }
      self.units = units
      self.sourceUnits = sourceUnits
    }
  }

  /// Rows grouped into clusters: source clusters first, then target clusters.
  struct Clusters {
    var rows: [[Int]]
    var sourceCount: Int
    var targetCount: Int { rows.count - sourceCount }

    init(source: [String], target: [String]) {
      var order: [String] = []
      var index: [String: Int] = [:]
      var rows: [[Int]] = []
      for (i, name) in source.enumerated() {
        if let k = index[name] {
          rows[k].append(i)
        } else {
          index[name] = rows.count
          order.append(name)
          rows.append([i])
        }
      }
      sourceCount = rows.count
      index = [:]
      for (j, name) in target.enumerated() {
        if let k = index[name] {
          rows[k].append(source.count + j)
        } else {
          index[name] = rows.count
          rows.append([source.count + j])
        }
      }
      self.rows = rows
    }
  }

  init(distances: PooledDistances, sigma: Double, sourceCount: Int) {
    let total = distances.n
    self.total = total
    n = sourceCount
    m = total - sourceCount
    let scale = -1 / (2 * sigma * sigma)
    var k = [Double](repeating: 0, count: total * total)
    var sums = [Double](repeating: 0, count: total)
    distances.squared.withUnsafeBufferPointer { sq in
      for i in 0..<total {
        var s = 0.0
        for j in 0..<total where j != i {
          let v = exp(sq[i * total + j] * scale)
          k[i * total + j] = v
          s += v
        }
        sums[i] = s
      }
    }
    k0 = k
    rowSums = sums
    grandSum = sums.reduce(0, +)
  }

  /// MMD²ᵤ from the block sums Sxx, Sxy, Syy (ordered pairs, i ≠ j within a block), for
  /// group sizes n and m (default: the actual ones).
  func combine(sxx: Double, sxy: Double, syy: Double, n: Int? = nil, m: Int? = nil) -> Double {
    let nd = Double(n ?? self.n)
    let md = Double(m ?? self.m)
    guard nd >= 2, md >= 2 else { return .nan }
    return sxx / (nd * (nd - 1)) + syy / (md * (md - 1)) - 2 * sxy / (nd * md)
  }

  /// The statistic for the actual split (first n rows = source).
  func mmd2() -> Double {
    var sxx = 0.0
    var sxy = 0.0
    var syy = 0.0
    for i in 0..<total {
      let row = i * total
      for j in 0..<total {
        let v = k0[row + j]
        if i < n {
          if j < n { sxx += v } else { sxy += v }
        } else if j >= n {
          syy += v
        }
      }
    }
    return combine(sxx: sxx, sxy: sxy, syy: syy)
  }

  /// MMD²ᵤ for `count` random relabellings of the pooled sample (group sizes kept).
  ///
  /// For an indicator a of the permuted "source" group: Sxx = aᵀK₀a, Sxy = aᵀr − Sxx,
  /// Syy = 1ᵀK₀1 − 2Sxy − Sxx, so one product K₀·A per batch of indicators suffices.
  func permutationStatistics(count: Int, seed: UInt64) -> [Double] {
    var generator = SeededGenerator(seed: seed, stream: [0x9e47])
    var results = [Double]()
    results.reserveCapacity(count)
    let batch = min(count, 256)
    var a = [Double](repeating: 0, count: total * batch)
    var c = [Double](repeating: 0, count: total * batch)
    // Without strata the whole pooled sample is one stratum. Units are clusters (whole
    // patients change sides; the source keeps its number of clusters) or rows.
    var groups =
      strata
      ?? Strata(
        units: [Array(0..<(clusters?.rows.count ?? total))],
        sourceUnits: [clusters?.sourceCount ?? n])
    var sizes = [Int](repeating: n, count: batch)
    var done = 0
    while done < count {
      let width = min(batch, count - done)
      for i in 0..<(total * width) { a[i] = 0 }
      for col in 0..<width {
        // Within each stratum, a random choice of its units goes to the source side.
        var size = 0
        for k in groups.units.indices {
          generator.shuffle(&groups.units[k])
          for u in groups.units[k].prefix(groups.sourceUnits[k]) {
            if let clusters {
              for row in clusters.rows[u] { a[row * width + col] = 1 }
              size += clusters.rows[u].count
            } else {
              a[u * width + col] = 1
              size += 1
            }
          }
        }
        sizes[col] = size
      }
      k0.withUnsafeBufferPointer { kp in
        a.withUnsafeBufferPointer { ap in
          c.withUnsafeMutableBufferPointer { cp in
            BLAS.dgemm(
              .none, .none, m: total, n: width, k: total, a: kp.baseAddress!, lda: total,
              b: ap.baseAddress!, ldb: width, c: cp.baseAddress!, ldc: width)
          }
        }
      }
      var sxx = [Double](repeating: 0, count: width)
      var ar = [Double](repeating: 0, count: width)
      for i in 0..<total {
        let r = rowSums[i]
        for col in 0..<width where a[i * width + col] != 0 {
          sxx[col] += c[i * width + col]
          ar[col] += r
        }
      }
      for col in 0..<width {
        let sxy = ar[col] - sxx[col]
        let syy = grandSum - 2 * sxy - sxx[col]
        results.append(
          combine(sxx: sxx[col], sxy: sxy, syy: syy, n: sizes[col], m: total - sizes[col]))
      }
      done += width
    }
    return results
  }

  /// MMD² on `count` bootstrap resamples (source and target resampled separately).
  ///
  /// A resample is a vector of multiplicities w. Within a group the U-statistic runs over pairs
  /// of distinct original samples: Sxx = Σ_{i≠j} wᵢwⱼk(xᵢ,xⱼ) over (n² − Σwᵢ²) pairs, so a
  /// duplicated sample is never compared with itself.
  func bootstrapStatistics(count: Int, seed: UInt64) -> [Double] {
    var generator = SeededGenerator(seed: seed, stream: [0xb007])
    var results = [Double]()
    results.reserveCapacity(count)
    let batch = min(count, 256)
    var wx = [Double](repeating: 0, count: n * batch)
    var wy = [Double](repeating: 0, count: m * batch)
    var cx = [Double](repeating: 0, count: total * batch)  // K₀[:, X] · Wx
    var cy = [Double](repeating: 0, count: m * batch)  // K₀[Y, Y] · Wy
    var done = 0
    while done < count {
      let width = min(batch, count - done)
      for i in 0..<(n * width) { wx[i] = 0 }
      for i in 0..<(m * width) { wy[i] = 0 }
      for col in 0..<width {
        if let clusters {
          // Resample clusters with replacement within each side.
          let ks = clusters.sourceCount
          let kt = clusters.targetCount
          for _ in 0..<ks {
            for row in clusters.rows[generator.below(ks)] {
              wx[row * width + col] += 1
            }
          }
          for _ in 0..<kt {
            for row in clusters.rows[ks + generator.below(kt)] {
              wy[(row - n) * width + col] += 1
            }
          }
        } else {
          for _ in 0..<n { wx[generator.below(n) * width + col] += 1 }
          for _ in 0..<m { wy[generator.below(m) * width + col] += 1 }
        }
      }
      k0.withUnsafeBufferPointer { kp in
        wx.withUnsafeBufferPointer { wp in
          cx.withUnsafeMutableBufferPointer { cp in
            BLAS.dgemm(
              .none, .none, m: total, n: width, k: n, a: kp.baseAddress!, lda: total,
              b: wp.baseAddress!, ldb: width, c: cp.baseAddress!, ldc: width)
          }
        }
        wy.withUnsafeBufferPointer { wp in
          cy.withUnsafeMutableBufferPointer { cp in
            BLAS.dgemm(
              .none, .none, m: m, n: width, k: m, a: kp.baseAddress! + n * total + n, lda: total,
              b: wp.baseAddress!, ldb: width, c: cp.baseAddress!, ldc: width)
          }
        }
      }
      for col in 0..<width {
        var sxx = 0.0
        var sxy = 0.0
        var syy = 0.0
        var nd = 0.0
        var md = 0.0
        var squaresX = 0.0
        var squaresY = 0.0
        for i in 0..<n {
          let w = wx[i * width + col]
          if w != 0 {
            sxx += w * cx[i * width + col]
            nd += w
            squaresX += w * w
          }
        }
        for i in 0..<m {
          let w = wy[i * width + col]
          if w != 0 {
            sxy += w * cx[(n + i) * width + col]
            syy += w * cy[i * width + col]
            md += w
            squaresY += w * w
          }
        }
        // Resampled sizes (they vary when clusters are resampled).
        let pairsX = nd * nd - squaresX
        let pairsY = md * md - squaresY
        results.append(
          (pairsX > 0 ? sxx / pairsX : .nan) + (pairsY > 0 ? syy / pairsY : .nan) - 2 * sxy
            / (nd * md))
      }
      done += width
    }
    return results
  }
}
