/// One bin of a reliability diagram.
public struct ReliabilityBin: Codable, Sendable, Equatable {
  /// Lower confidence edge (exclusive, except 0 for the first bin).
  public var lower: Double
  /// Upper confidence edge (inclusive).
  public var upper: Double
  /// Samples whose confidence falls in the bin (at least one: empty bins are not listed).
  public var count: Int
  /// Mean top-label confidence of those samples.
  public var meanConfidence: Double
  /// Their accuracy (fraction predicted correctly).
  public var accuracy: Double

  /// A bin of `count` samples.
  public init(lower: Double, upper: Double, count: Int, meanConfidence: Double, accuracy: Double) {
    self.lower = lower
    self.upper = upper
    self.count = count
    self.meanConfidence = meanConfidence
    self.accuracy = accuracy
  }
}

/// Expected calibration error with the data of its reliability diagram.
public struct CalibrationResult: Codable, Sendable, Equatable {
  /// ECE = Σ_b (n_b / N) |acc_b − conf_b| over equal-width confidence bins.
  public var expectedCalibrationError: Double
  /// Largest |acc_b − conf_b| over non-empty bins.
  public var maximumCalibrationError: Double
  /// The non-empty bins, lowest confidence first (an empty bin has no confidence or accuracy
  /// to plot).
  public var bins: [ReliabilityBin]
}

/// Calibration of predicted probabilities (Guo et al. 2017 top-label ECE).
public enum Calibration {
  /// Top-label calibration: confidence = max class probability, correct = argmax == label,
  /// binned into `bins` equal-width bins (lo, hi] over [0, 1] (default 15).
  public static func expectedCalibrationError(
    probabilities: [[Double]], labels: [Int], bins: Int = 15
  ) throws -> CalibrationResult {
    guard probabilities.count == labels.count else {
      throw MetricsError.sizeMismatch(
        input: "probabilities rows", expected: labels.count, actual: probabilities.count)
    }
    guard bins >= 1 else {
      throw MetricsError.invalidParameter(name: "bins", value: "\(bins)", reason: "must be ≥ 1")
    }
    var count = [Int](repeating: 0, count: bins)
    var confidenceSum = [Double](repeating: 0, count: bins)
    var correctSum = [Double](repeating: 0, count: bins)
    for (row, label) in zip(probabilities, labels) {
      guard let best = row.indices.max(by: { row[$0] < row[$1] }) else { continue }
      let confidence = row[best]
      let bin = min(max(Int((confidence * Double(bins)).rounded(.up)) - 1, 0), bins - 1)
      count[bin] += 1
      confidenceSum[bin] += confidence
      correctSum[bin] += best == label ? 1 : 0
    }
    let total = Double(labels.count)
    var ece = 0.0
    var mce = 0.0
    var out = [ReliabilityBin]()
    for b in 0..<bins {
      let c = Double(count[b])
      guard c > 0 else { continue }
      let conf = confidenceSum[b] / c
      let acc = correctSum[b] / c
      ece += c / total * abs(acc - conf)
      mce = max(mce, abs(acc - conf))
      out.append(
        ReliabilityBin(
          lower: Double(b) / Double(bins), upper: Double(b + 1) / Double(bins), count: count[b],
          meanConfidence: conf, accuracy: acc))
    }
    return CalibrationResult(expectedCalibrationError: ece, maximumCalibrationError: mce, bins: out)
  }
}
