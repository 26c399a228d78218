import Foundation

/// Turns predicted class probabilities into the reports `evaluate` and `summary.json` show.
public enum Evaluator {
  /// The full report with per-domain and per-subgroup breakdowns (subsets with < 2 images are
  /// left out).
  public static func report(probabilities: [Float], labels: [Int], classes: [String],
                            domains: [String]? = nil, subgroups: [[String]]? = nil,
                            bootstrapReplicates: Int = 500, seed: UInt64 = 0) -> EvaluationReport {
    let k = classes.count
    func sub(_ rows: [Int]) -> ClassificationReport {
      var p: [Float] = []
      p.reserveCapacity(rows.count * k)
      for r in rows { p += probabilities[(r * k)..<((r + 1) * k)] }
      return classification(probabilities: p, labels: rows.map { labels[$0] }, classes: classes,
                            bootstrapReplicates: bootstrapReplicates, seed: seed)
    }
    let overall = classification(probabilities: probabilities, labels: labels, classes: classes,
                                 bootstrapReplicates: bootstrapReplicates, seed: seed)
    var perDomain: [String: ClassificationReport] = [:]
    if let domains, Set(domains).count > 1 {
      for d in Set(domains) {
        let rows = domains.indices.filter { domains[$0] == d }
        if rows.count >= 2 { perDomain[d] = sub(rows) }
      }
    }
    var perSubgroup: [String: ClassificationReport] = [:]
    if let subgroups {
      for g in Set(subgroups.flatMap { $0 }) {
        let rows = subgroups.indices.filter { subgroups[$0].contains(g) }
        if rows.count >= 2 { perSubgroup[g] = sub(rows) }
      }
    }
    return EvaluationReport(overall: overall, perDomain: perDomain, perSubgroup: perSubgroup)
  }

  /// The cheap per-epoch numbers (no intervals).
  public static func validation(probabilities: [Float], labels: [Int], classes k: Int)
    -> ValidationMetrics
  {
    let confusion = confusionMatrix(probabilities: probabilities, labels: labels, classes: k)
    let perClass = (0..<k).compactMap { c in
      auroc(scores: column(probabilities, c, k), positives: labels.map { $0 == c })
    }
    return ValidationMetrics(
      loss: crossEntropy(probabilities, labels, k),
      accuracy: accuracy(confusion), balancedAccuracy: balancedAccuracy(confusion),
      macroF1: macroF1(confusion),
      macroAUROC: perClass.isEmpty ? nil : perClass.reduce(0, +) / Double(perClass.count))
  }

  /// One classification report.
  public static func classification(probabilities: [Float], labels: [Int], classes: [String],
                                    bootstrapReplicates: Int = 500, seed: UInt64 = 0)
    -> ClassificationReport
  {
    let k = classes.count
    let n = labels.count
    precondition(probabilities.count == n * k, "Evaluator needs N×K probabilities.")
    let confusion = confusionMatrix(probabilities: probabilities, labels: labels, classes: k)
    let acc = accuracy(confusion)
    let (lo, hi) = wilson(successes: Double(n) * acc, n: Double(n))
    var perClass: [String: IntervalEstimate] = [:]
    var present: [Int] = []
    for c in 0..<k {
      let positives = labels.map { $0 == c }
      let scores = column(probabilities, c, k)
      if let (auc, variance) = delong(scores: scores, positives: positives) {
        let z = 1.959963984540054
        let se = variance.squareRoot()
        perClass[classes[c]] = IntervalEstimate(value: auc, lower: max(0, auc - z * se),
                                                upper: min(1, auc + z * se), method: "delong")
        present.append(c)
      }
    }
    var macro: IntervalEstimate?
    if !present.isEmpty {
      let value = present.map { perClass[classes[$0]]!.value }.reduce(0, +) / Double(present.count)
      // Stratified bootstrap (resample within each class) so every replicate has every class.
      var g = SplitMix(seed: seed ^ 0xB007)
      let byClass = (0..<k).map { c in labels.indices.filter { labels[$0] == c } }
      var reps: [Double] = []
      for _ in 0..<bootstrapReplicates {
        var rows: [Int] = []
        for members in byClass where !members.isEmpty {
          for _ in 0..<members.count { rows.append(members[Int(g.next() % UInt64(members.count))]) }
        }
        let ys = rows.map { labels[$0] }
        var sum = 0.0
        var m = 0
        for c in present {
          if let a = auroc(scores: rows.map { probabilities[$0 * k + c] }, positives: ys.map { $0 == c }) {
            sum += a
            m += 1
          }
        }
        if m > 0 { reps.append(sum / Double(m)) }
      }
      reps.sort()
      if reps.count >= 20 {
        macro = IntervalEstimate(value: value, lower: quantile(reps, 0.025),
                                 upper: quantile(reps, 0.975), method: "bootstrap")
      } else {
        macro = IntervalEstimate(value: value)
      }
    }
    return ClassificationReport(
      count: n, classes: classes,
      accuracy: IntervalEstimate(value: acc, lower: lo, upper: hi, method: "wilson"),
      balancedAccuracy: balancedAccuracy(confusion), macroF1: macroF1(confusion),
      perClassAUROC: perClass, macroAUROC: macro,
      ece: expectedCalibrationError(probabilities: probabilities, labels: labels, classes: k),
      confusion: confusion, loss: crossEntropy(probabilities, labels, k),
      reliability: reliability(probabilities: probabilities, labels: labels, classes: k))
  }

  // MARK: - Pieces

  static func column(_ p: [Float], _ c: Int, _ k: Int) -> [Float] {
    stride(from: c, to: p.count, by: k).map { p[$0] }
  }

  static func argmax(_ p: [Float], row r: Int, _ k: Int) -> Int {
    var best = 0
    for c in 1..<k where p[r * k + c] > p[r * k + best] { best = c }
    return best
  }

  /// confusion[true][predicted].
  public static func confusionMatrix(probabilities p: [Float], labels: [Int], classes k: Int)
    -> [[Int]]
  {
    var m = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
    for (r, y) in labels.enumerated() { m[y][argmax(p, row: r, k)] += 1 }
    return m
  }

  static func accuracy(_ m: [[Int]]) -> Double {
    let total = m.joined().reduce(0, +)
    return total == 0 ? .nan : Double(m.indices.map { m[$0][$0] }.reduce(0, +)) / Double(total)
  }

  static func balancedAccuracy(_ m: [[Int]]) -> Double {
    let recalls = m.indices.compactMap { c -> Double? in
      let support = m[c].reduce(0, +)
      return support == 0 ? nil : Double(m[c][c]) / Double(support)
    }
    return recalls.isEmpty ? .nan : recalls.reduce(0, +) / Double(recalls.count)
  }

  /// Mean F1 over classes present in the labels or the predictions (sklearn's macro average).
  static func macroF1(_ m: [[Int]]) -> Double {
    var scores: [Double] = []
    for c in m.indices {
      let tp = Double(m[c][c])
      let support = Double(m[c].reduce(0, +))
      let predicted = Double(m.indices.map { m[$0][c] }.reduce(0, +))
      if support == 0 && predicted == 0 { continue }
      scores.append(2 * tp / (support + predicted))
    }
    return scores.isEmpty ? .nan : scores.reduce(0, +) / Double(scores.count)
  }

  /// ECE with 15 equal-width bins of top-1 confidence: Σ (n_b/N)|acc_b − conf_b|.
  public static func expectedCalibrationError(probabilities p: [Float], labels: [Int],
                                              classes k: Int, bins: Int = 15) -> Double {
    let r = reliability(probabilities: p, labels: labels, classes: k, bins: bins)
    let n = Double(labels.count)
    guard n > 0 else { return .nan }
    return r.reduce(0) {
      $0 + abs($1.accuracy - $1.meanConfidence) * Double($1.count) / n
    }
  }

  /// The reliability diagram: the non-empty bins (i/B, (i+1)/B] of top-1 confidence (a
  /// confidence of 0 goes to the first).
  public static func reliability(probabilities p: [Float], labels: [Int], classes k: Int,
                                 bins: Int = 15) -> [CalibrationBin] {
    var count = [Int](repeating: 0, count: bins)
    var correct = [Double](repeating: 0, count: bins)
    var confidence = [Double](repeating: 0, count: bins)
    for (r, y) in labels.enumerated() {
      let c = argmax(p, row: r, k)
      let conf = Double(p[r * k + c])
      let b = min(max(Int((conf * Double(bins)).rounded(.up)) - 1, 0), bins - 1)
      count[b] += 1
      confidence[b] += conf
      if c == y { correct[b] += 1 }
    }
    return (0..<bins).filter { count[$0] > 0 }.map { b in
      CalibrationBin(lower: Double(b) / Double(bins), upper: Double(b + 1) / Double(bins),
                     count: count[b], meanConfidence: confidence[b] / Double(count[b]),
                     accuracy: correct[b] / Double(count[b]))
    }
  }

  static func crossEntropy(_ p: [Float], _ labels: [Int], _ k: Int) -> Double {
    guard !labels.isEmpty else { return .nan }
    var s = 0.0
    for (r, y) in labels.enumerated() { s -= log(max(Double(p[r * k + y]), 1e-12)) }
    return s / Double(labels.count)
  }

  /// Wilson score interval for a proportion.
  static func wilson(successes x: Double, n: Double, z: Double = 1.959963984540054)
    -> (Double, Double)
  {
    guard n > 0 else { return (.nan, .nan) }
    let p = x / n
    let d = 1 + z * z / n
    let centre = (p + z * z / (2 * n)) / d
    let half = z * ((p * (1 - p) / n + z * z / (4 * n * n)).squareRoot()) / d
    return (max(0, centre - half), min(1, centre + half))
  }

  /// AUROC as the Mann–Whitney statistic (ties count ½); nil without both classes.
  static func auroc(scores: [Float], positives: [Bool]) -> Double? {
    let m = positives.filter { $0 }.count
    let n = positives.count - m
    guard m > 0 && n > 0 else { return nil }
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSum = 0.0
    var i = 0
    while i < order.count {
      var j = i
      while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
      let midrank = Double(i + j) / 2 + 1
      for t in i...j where positives[order[t]] { rankSum += midrank }
      i = j + 1
    }
    return (rankSum - Double(m * (m + 1)) / 2) / Double(m * n)
  }

  /// AUROC and its DeLong variance (DeLong, DeLong & Clarke-Pearson 1988).
  static func delong(scores: [Float], positives: [Bool]) -> (Double, Double)? {
    let pos = scores.indices.filter { positives[$0] }.map { scores[$0] }
    let neg = scores.indices.filter { !positives[$0] }.map { scores[$0] }
    let m = pos.count
    let n = neg.count
    guard m > 1 && n > 1 else { return nil }
    // Structural components via sorted negatives/positives: V10_i = P(neg < x_i) + ½P(=).
    let sn = neg.sorted()
    let sp = pos.sorted()
    func below(_ sorted: [Float], _ x: Float) -> (less: Int, equal: Int) {
      var lo = 0, hi = sorted.count
      while lo < hi { let mid = (lo + hi) / 2; if sorted[mid] < x { lo = mid + 1 } else { hi = mid } }
      var e = lo
      while e < sorted.count && sorted[e] == x { e += 1 }
      return (lo, e - lo)
    }
    let v10 = pos.map { x -> Double in
      let (l, e) = below(sn, x)
      return (Double(l) + 0.5 * Double(e)) / Double(n)
    }
    let v01 = neg.map { y -> Double in
      let (l, e) = below(sp, y)
      return (Double(m - l - e) + 0.5 * Double(e)) / Double(m)
    }
    let auc = v10.reduce(0, +) / Double(m)
    func variance(_ v: [Double]) -> Double {
      let mean = v.reduce(0, +) / Double(v.count)
      return v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)
    }
    return (auc, variance(v10) / Double(m) + variance(v01) / Double(n))
  }

  static func quantile(_ sorted: [Double], _ q: Double) -> Double {
    let h = Double(sorted.count - 1) * q
    let lo = Int(h.rounded(.down))
    let hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
  }
}
