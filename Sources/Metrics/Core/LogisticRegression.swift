import Foundation
import LinearAlgebra

/// Multinomial logistic regression with an L2 penalty, fitted by L-BFGS.
///
/// Minimises  (1/Σwᵢ) Σ wᵢ · (−log softmax(xᵢW + b)_{yᵢ}) + (λ/2)‖W‖²_F  (the bias is not
/// penalised). With `standardize` (the default) features are centred and scaled to unit
/// variance with statistics of the training set, and λ applies to the standardised weights —
/// the same model as scikit-learn's `StandardScaler` + `LogisticRegression(C = 1/(λ·n))`.
/// Binary problems are the K = 2 case of the same softmax model.
///
/// Used for the proxy A-distance (domain classifier) and by the `features+logreg` transfer
/// strategy in Adaptation.
public struct LogisticRegression: Codable, Sendable {
  /// Fitting settings.
  public struct Options: Codable, Sendable, Equatable {
    /// L2 strength λ on the (standardised) weights; must be > 0 for separable data.
    public var l2: Double
    /// Maximum L-BFGS iterations.
    public var maxIterations: Int
    /// Stop when the largest gradient component is below this.
    public var tolerance: Double
    /// Whether features are standardised before fitting.
    public var standardize: Bool
    /// Number of correction pairs L-BFGS keeps.
    public var memory: Int

    /// Defaults: λ = 1e-2, 500 iterations, tolerance 1e-6, standardised, memory 10.
    public init(
      l2: Double = 1e-2, maxIterations: Int = 500, tolerance: Double = 1e-6,
      standardize: Bool = true, memory: Int = 10
    ) {
      self.l2 = l2
      self.maxIterations = maxIterations
      self.tolerance = tolerance
      self.standardize = standardize
      self.memory = memory
    }
  }

  /// Number of classes K.
  public let classCount: Int
  /// Number of input features d.
  public let featureCount: Int
  /// d×K weights (row-major) acting on standardised features.
  public let weights: [Double]
  /// K biases.
  public let bias: [Double]
  /// Per-feature mean subtracted before the weights (zeros without standardisation).
  public let featureMean: [Double]
  /// Per-feature scale divided before the weights (ones without standardisation).
  public let featureScale: [Double]
  /// Iterations L-BFGS ran.
  public let iterations: Int
  /// Whether the gradient tolerance was reached.
  public let converged: Bool
  /// Objective value at the solution.
  public let loss: Double

  /// Fits the model to `features` and class indices `labels` in `0..<classCount`.
  ///
  /// - Parameters:
  ///   - classCount: K; defaults to max(label) + 1 (and at least 2).
  ///   - sampleWeights: optional non-negative weight per sample (e.g. to balance classes).
  public static func fit(
    features: FeatureMatrix, labels: [Int], classCount: Int? = nil,
    sampleWeights: [Double]? = nil, options: Options = Options()
  ) throws -> LogisticRegression {
    let n = features.rows
    let d = features.columns
    guard labels.count == n else {
      throw MetricsError.sizeMismatch(
        input: "logistic regression labels", expected: n, actual: labels.count)
    }
    guard n >= 1 else {
      throw MetricsError.tooFewSamples(input: "logistic regression features", count: n, minimum: 1)
    }
    let k = max(classCount ?? ((labels.max() ?? 0) + 1), 2)
    for label in labels where label < 0 || label >= k {
      throw MetricsError.labelOutOfRange(
        input: "logistic regression labels", label: label, classCount: k)
    }
    guard options.l2 >= 0, options.l2.isFinite else {
      throw MetricsError.invalidParameter(name: "l2", value: "\(options.l2)", reason: "must be ≥ 0")
    }
    var weightsPerSample = sampleWeights ?? [Double](repeating: 1, count: n)
    guard weightsPerSample.count == n else {
      throw MetricsError.sizeMismatch(
        input: "sample weights", expected: n, actual: weightsPerSample.count)
    }
    let weightSum = weightsPerSample.reduce(0, +)
    guard weightSum > 0, weightsPerSample.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
      throw MetricsError.invalidParameter(
        name: "sampleWeights", value: "sum \(weightSum)",
        reason: "must be non-negative with a positive sum")
    }
    for i in 0..<n { weightsPerSample[i] /= weightSum }

    var mean = [Double](repeating: 0, count: d)
    var scale = [Double](repeating: 1, count: d)
    if options.standardize {
      mean = features.columnMeans()
      var variance = [Double](repeating: 0, count: d)
      features.values.withUnsafeBufferPointer { v in
        for i in 0..<n {
          for j in 0..<d {
            let t = Double(v[i * d + j]) - mean[j]
            variance[j] += t * t
          }
        }
      }
      for j in 0..<d {
        let s = (variance[j] / Double(n)).squareRoot()
        scale[j] = s > 1e-12 ? s : 1
      }
    }
    var x = features.centered(by: mean)
    for i in 0..<n { for j in 0..<d { x[i * d + j] /= scale[j] } }

    let problem = SoftmaxObjective(
      x: x, n: n, d: d, k: k, labels: labels, sampleWeights: weightsPerSample, l2: options.l2)
    var theta = [Double](repeating: 0, count: d * k + k)
    let outcome = LBFGS.minimize(
      &theta, memory: options.memory, maxIterations: options.maxIterations,
      tolerance: options.tolerance, objective: problem.evaluate)
    return LogisticRegression(
      classCount: k, featureCount: d, weights: Array(theta[0..<(d * k)]),
      bias: Array(theta[(d * k)...]), featureMean: mean, featureScale: scale,
      iterations: outcome.iterations, converged: outcome.converged, loss: outcome.value)
  }

  /// Class probabilities, n×K row-major.
  public func predictProbabilities(_ features: FeatureMatrix) -> [Double] {
    precondition(
      features.columns == featureCount,
      "LogisticRegression was fitted on \(featureCount) features but got \(features.columns).")
    let n = features.rows
    let d = featureCount
    let k = classCount
    var x = features.centered(by: featureMean)
    for i in 0..<n { for j in 0..<d { x[i * d + j] /= featureScale[j] } }
    var logits = [Double](repeating: 0, count: n * k)
    SoftmaxObjective.logits(x: x, n: n, d: d, k: k, weights: weights, bias: bias, into: &logits)
    SoftmaxObjective.softmaxRows(&logits, n: n, k: k)
    return logits
  }

  /// Class probabilities, one array of K per sample.
  public func predictProba(_ features: FeatureMatrix) -> [[Double]] {
    let p = predictProbabilities(features)
    return (0..<features.rows).map { Array(p[($0 * classCount)..<(($0 + 1) * classCount)]) }
  }

  /// The most probable class per sample.
  public func predict(_ features: FeatureMatrix) -> [Int] {
    predictProba(features).map { row in row.indices.max { row[$0] < row[$1] }! }
  }
}

/// Weighted softmax cross-entropy with an L2 penalty, and its gradient.
struct SoftmaxObjective {
  let x: [Double]
  let n: Int, d: Int, k: Int
  let labels: [Int]
  let sampleWeights: [Double]
  let l2: Double

  // x: (n, d), W: (d, k), b: (k) -> logits: (n, k)
  static func logits(
    x: [Double], n: Int, d: Int, k: Int, weights: ArraySlice<Double>, bias: ArraySlice<Double>,
    into out: inout [Double]
  ) {
    let biasArray = Array(bias)
    for i in 0..<n { for c in 0..<k { out[i * k + c] = biasArray[c] } }
    if d == 0 || n == 0 { return }
    weights.withUnsafeBufferPointer { wp in
      x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { op in
          BLAS.dgemm(
            .none, .none, m: n, n: k, k: d, a: xp.baseAddress!, lda: d, b: wp.baseAddress!,
            ldb: k, beta: 1, c: op.baseAddress!, ldc: k)
        }
      }
    }
  }

  static func logits(
    x: [Double], n: Int, d: Int, k: Int, weights: [Double], bias: [Double], into out: inout [Double]
  ) {
    logits(x: x, n: n, d: d, k: k, weights: weights[...], bias: bias[...], into: &out)
  }

  static func softmaxRows(_ z: inout [Double], n: Int, k: Int) {
    for i in 0..<n {
      var mx = -Double.infinity
      for c in 0..<k { mx = max(mx, z[i * k + c]) }
      var s = 0.0
      for c in 0..<k {
        let e = exp(z[i * k + c] - mx)
        z[i * k + c] = e
        s += e
      }
      for c in 0..<k { z[i * k + c] /= s }
    }
  }

  /// Objective value and gradient at θ = [W (d×k), b (k)].
  func evaluate(_ theta: [Double], _ gradient: inout [Double]) -> Double {
    let w = theta[0..<(d * k)]
    let b = theta[(d * k)...]
    var z = [Double](repeating: 0, count: n * k)
    Self.logits(x: x, n: n, d: d, k: k, weights: w, bias: b, into: &z)
    var loss = 0.0
    // z becomes the weighted residual R = wᵢ (P − Y).
    for i in 0..<n {
      var mx = -Double.infinity
      for c in 0..<k { mx = max(mx, z[i * k + c]) }
      var s = 0.0
      for c in 0..<k { s += exp(z[i * k + c] - mx) }
      let logSum = mx + log(s)
      let wi = sampleWeights[i]
      loss += wi * (logSum - z[i * k + labels[i]])
      for c in 0..<k { z[i * k + c] = wi * exp(z[i * k + c] - logSum) }
      z[i * k + labels[i]] -= wi
    }
    for c in 0..<k {
      var s = 0.0
      for i in 0..<n { s += z[i * k + c] }
      gradient[d * k + c] = s
    }
    var penalty = 0.0
    for p in 0..<(d * k) {
      penalty += theta[p] * theta[p]
      gradient[p] = l2 * theta[p]
    }
    if d > 0 && n > 0 {
      // G_W = Xᵀ R + λW
      x.withUnsafeBufferPointer { xp in
        z.withUnsafeBufferPointer { zp in
          gradient.withUnsafeMutableBufferPointer { gp in
            BLAS.dgemm(
              .transpose, .none, m: d, n: k, k: n, a: xp.baseAddress!, lda: d,
              b: zp.baseAddress!, ldb: k, beta: 1, c: gp.baseAddress!, ldc: k)
          }
        }
      }
    }
    return loss + 0.5 * l2 * penalty
  }
}

/// Limited-memory BFGS with a backtracking (Armijo) line search.
enum LBFGS {
  struct Outcome {
    var value: Double
    var iterations: Int
    var converged: Bool
  }

  static func minimize(
    _ x: inout [Double], memory: Int, maxIterations: Int, tolerance: Double,
    objective: ([Double], inout [Double]) -> Double
  ) -> Outcome {
    let p = x.count
    var g = [Double](repeating: 0, count: p)
    var f = objective(x, &g)
    var sList = [[Double]]()
    var yList = [[Double]]()
    var rhoList = [Double]()
    func maxAbs(_ v: [Double]) -> Double { v.reduce(0) { max($0, abs($1)) } }
    func dot(_ a: [Double], _ b: [Double]) -> Double {
      var s = 0.0
      for i in 0..<a.count { s += a[i] * b[i] }
      return s
    }
    if maxAbs(g) < tolerance { return Outcome(value: f, iterations: 0, converged: true) }
    var iteration = 0
    var newG = [Double](repeating: 0, count: p)
    while iteration < maxIterations {
      iteration += 1
      // Two-loop recursion: direction = −H·g.
      var q = g
      var alphas = [Double](repeating: 0, count: sList.count)
      for i in stride(from: sList.count - 1, through: 0, by: -1) {
        alphas[i] = rhoList[i] * dot(sList[i], q)
        for j in 0..<p { q[j] -= alphas[i] * yList[i][j] }
      }
      if let s = sList.last, let y = yList.last {
        let gamma = dot(s, y) / dot(y, y)
        for j in 0..<p { q[j] *= gamma }
      } else {
        let scale = 1 / max(1, maxAbs(g))
        for j in 0..<p { q[j] *= scale }
      }
      for i in 0..<sList.count {
        let beta = rhoList[i] * dot(yList[i], q)
        for j in 0..<p { q[j] += sList[i][j] * (alphas[i] - beta) }
      }
      var direction = q.map { -$0 }
      var slope = dot(g, direction)
      if !(slope < 0) {
        // Not a descent direction (numerical trouble): restart from steepest descent.
        sList.removeAll()
        yList.removeAll()
        rhoList.removeAll()
        let scale = 1 / max(1, maxAbs(g))
        direction = g.map { -$0 * scale }
        slope = dot(g, direction)
      }
      var step = 1.0
      var newX = x
      var newF = f
      var accepted = false
      for _ in 0..<60 {
        for j in 0..<p { newX[j] = x[j] + step * direction[j] }
        newF = objective(newX, &newG)
        if newF.isFinite && newF <= f + 1e-4 * step * slope {
          accepted = true
          break
        }
        step *= 0.5
      }
      if !accepted {
        return Outcome(value: f, iterations: iteration, converged: maxAbs(g) < tolerance)
      }
      var s = [Double](repeating: 0, count: p)
      var y = [Double](repeating: 0, count: p)
      for j in 0..<p {
        s[j] = newX[j] - x[j]
        y[j] = newG[j] - g[j]
      }
      let sy = dot(s, y)
      if sy > 1e-12 * dot(y, y).squareRoot() * dot(s, s).squareRoot() && sy > 0 {
        sList.append(s)
        yList.append(y)
        rhoList.append(1 / sy)
        if sList.count > memory {
          sList.removeFirst()
          yList.removeFirst()
          rhoList.removeFirst()
        }
      }
      let previous = f
      x = newX
      f = newF
      g = newG
      if maxAbs(g) < tolerance { return Outcome(value: f, iterations: iteration, converged: true) }
      if abs(previous - f) <= 1e-14 * max(1, abs(f)) {
        return Outcome(value: f, iterations: iteration, converged: maxAbs(g) < tolerance * 10)
      }
    }
    return Outcome(value: f, iterations: iteration, converged: false)
  }
}
