import Foundation

/// `features+logreg`: an L2-regularised multinomial logistic regression on standardised frozen
/// features, fitted by L-BFGS to convergence (no epochs, no learning rate to tune).
///
/// A stand-in until Metrics' `LogisticRegression` is merged; the objective is the same:
/// mean cross-entropy + λ/2·‖W‖² (bias unpenalised).
public struct LogisticProbe {
  /// Per-feature mean and standard deviation of the training features.
  public var mean: [Double], scale: [Double]
  /// Weights (K × D) then biases (K), row-major.
  public var coefficients: [Double]
  /// D and K.
  public var dimension: Int, classes: Int
  /// L-BFGS iterations used.
  public var iterations: Int

  /// Fits on `set` with L2 strength `l2`.
  public static func fit(_ set: FeatureSet, l2: Double, maxIterations: Int = 300) -> LogisticProbe {
    let n = set.count
    let d = set.dimension
    let k = set.classes.count
    var mean = [Double](repeating: 0, count: d)
    var scale = [Double](repeating: 0, count: d)
    for r in 0..<n { for c in 0..<d { mean[c] += Double(set.features[r * d + c]) } }
    for c in 0..<d { mean[c] /= Double(max(n, 1)) }
    for r in 0..<n {
      for c in 0..<d { let v = Double(set.features[r * d + c]) - mean[c]; scale[c] += v * v }
    }
    for c in 0..<d { scale[c] = max((scale[c] / Double(max(n, 1))).squareRoot(), 1e-6) }
    var x = [Double](repeating: 0, count: n * d)
    for r in 0..<n { for c in 0..<d { x[r * d + c] = (Double(set.features[r * d + c]) - mean[c]) / scale[c] } }
    let labels = set.labels

    func objective(_ w: [Double]) -> (Double, [Double]) {
      var g = [Double](repeating: 0, count: w.count)
      var loss = 0.0
      var z = [Double](repeating: 0, count: k)
      for r in 0..<n {
        for j in 0..<k {
          var s = w[k * d + j]
          for c in 0..<d { s += w[j * d + c] * x[r * d + c] }
          z[j] = s
        }
        let m = z.max()!
        var sum = 0.0
        for j in 0..<k { z[j] = exp(z[j] - m); sum += z[j] }
        loss -= log(z[labels[r]] / sum)
        for j in 0..<k {
          let delta = (z[j] / sum - (j == labels[r] ? 1 : 0)) / Double(n)
          g[k * d + j] += delta
          for c in 0..<d { g[j * d + c] += delta * x[r * d + c] }
        }
      }
      loss /= Double(n)
      for i in 0..<(k * d) {
        loss += 0.5 * l2 * w[i] * w[i]
        g[i] += l2 * w[i]
      }
      return (loss, g)
    }

    var w = [Double](repeating: 0, count: k * d + k)
    var (f, g) = objective(w)
    var sHistory: [[Double]] = []
    var yHistory: [[Double]] = []
    var iterations = 0
    func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    while iterations < maxIterations {
      iterations += 1
      // Two-loop recursion for the L-BFGS direction.
      var q = g
      var alphas: [Double] = []
      for (s, y) in zip(sHistory, yHistory).reversed() {
        let a = dot(s, q) / dot(y, s)
        alphas.append(a)
        for i in q.indices { q[i] -= a * y[i] }
      }
      if let s = sHistory.last, let y = yHistory.last {
        let gamma = dot(s, y) / dot(y, y)
        for i in q.indices { q[i] *= gamma }
      }
      for ((s, y), a) in zip(zip(sHistory, yHistory), alphas.reversed()) {
        let b = dot(y, q) / dot(y, s)
        for i in q.indices { q[i] += s[i] * (a - b) }
      }
      var direction = q.map { -$0 }
      var slope = dot(direction, g)
      if slope >= 0 {
        direction = g.map { -$0 }
        slope = -dot(g, g)
        sHistory = []
        yHistory = []
      }
      // Armijo backtracking.
      var step = 1.0
      var next = w
      var fNext = f
      var gNext = g
      var accepted = false
      for _ in 0..<30 {
        for i in w.indices { next[i] = w[i] + step * direction[i] }
        (fNext, gNext) = objective(next)
        if fNext <= f + 1e-4 * step * slope { accepted = true; break }
        step *= 0.5
      }
      if !accepted { break }
      let s = zip(next, w).map { $0 - $1 }
      let y = zip(gNext, g).map { $0 - $1 }
      if dot(s, y) > 1e-12 {
        sHistory.append(s)
        yHistory.append(y)
        if sHistory.count > 10 { sHistory.removeFirst(); yHistory.removeFirst() }
      }
      let improvement = f - fNext
      w = next
      f = fNext
      g = gNext
      if improvement < 1e-10 * max(1, abs(f)) || dot(g, g).squareRoot() < 1e-6 { break }
    }
    return LogisticProbe(mean: mean, scale: scale, coefficients: w, dimension: d, classes: k,
                         iterations: iterations)
  }

  /// Class probabilities (N × K) for `set`'s features.
  public func probabilities(_ set: FeatureSet) -> [Float] {
    let (d, k) = (dimension, classes)
    var out = [Float](repeating: 0, count: set.count * k)
    var z = [Double](repeating: 0, count: k)
    for r in 0..<set.count {
      for j in 0..<k {
        var s = coefficients[k * d + j]
        for c in 0..<d {
          s += coefficients[j * d + c] * (Double(set.features[r * d + c]) - mean[c]) / scale[c]
        }
        z[j] = s
      }
      let m = z.max()!
      var sum = 0.0
      for j in 0..<k { z[j] = exp(z[j] - m); sum += z[j] }
      for j in 0..<k { out[r * k + j] = Float(z[j] / sum) }
    }
    return out
  }
}
