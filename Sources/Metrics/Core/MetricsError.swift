/// Errors a caller can cause when handing data to the Metrics module.
///
/// Every case names the input, the reason, and where known the fix. No case carries sample
/// values, so nothing patient-identifying can leak into a message.
public enum MetricsError: Error, CustomStringConvertible, Equatable {
  /// A sample has too few rows for the statistic (e.g. an unbiased MMD needs ≥ 2 per side).
  case tooFewSamples(input: String, count: Int, minimum: Int)
  /// Two inputs that must agree in size do not.
  case sizeMismatch(input: String, expected: Int, actual: Int)
  /// A value is NaN or infinite.
  case nonFinite(input: String, index: Int)
  /// A label is outside `0..<classCount`.
  case labelOutOfRange(input: String, label: Int, classCount: Int)
  /// A statistic needs both classes (or every class) to be present.
  case missingClass(input: String, detail: String)
  /// A parameter is outside its valid range.
  case invalidParameter(name: String, value: String, reason: String)
  /// A LAPACK routine failed.
  case numerical(operation: String, cause: String)

  public var description: String {
    switch self {
    case .tooFewSamples(let input, let count, let minimum):
      return "\(input): \(count) samples, but at least \(minimum) are needed; add more samples"
    case .sizeMismatch(let input, let expected, let actual):
      return "\(input): expected \(expected) values, got \(actual); pass inputs of matching size"
    case .nonFinite(let input, let index):
      return "\(input): value \(index) is NaN or infinite; check the feature extraction"
    case .labelOutOfRange(let input, let label, let classCount):
      return "\(input): label \(label) is outside 0..<\(classCount); pass labels as class indices"
    case .missingClass(let input, let detail):
      return "\(input): \(detail)"
    case .invalidParameter(let name, let value, let reason):
      return "parameter \(name) = \(value): \(reason)"
    case .numerical(let operation, let cause):
      return "\(operation) failed numerically: \(cause)"
    }
  }
}
