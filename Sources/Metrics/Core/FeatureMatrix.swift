/// A dense row-major matrix of per-sample features (rows = samples, columns = features).
///
/// This is the only matrix type in the Metrics public API: plain `[Float]` storage, so any
/// module (or a test) can build one without the training engine.
public struct FeatureMatrix: Codable, Sendable, Equatable {
  /// Number of samples.
  public let rows: Int
  /// Number of features per sample.
  public let columns: Int
  /// `rows * columns` values, row-major.
  public let values: [Float]

  /// Wraps `values` (row-major) as a `rows × columns` matrix.
  public init(rows: Int, columns: Int, values: [Float]) throws {
    guard rows >= 0, columns >= 0 else {
      throw MetricsError.invalidParameter(
        name: "rows/columns", value: "\(rows)/\(columns)", reason: "must not be negative")
    }
    guard values.count == rows * columns else {
      throw MetricsError.sizeMismatch(
        input: "FeatureMatrix(\(rows)×\(columns)) values", expected: rows * columns,
        actual: values.count)
    }
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
      throw MetricsError.nonFinite(input: "FeatureMatrix values", index: bad)
    }
    self.rows = rows
    self.columns = columns
    self.values = values
  }

  /// Builds a matrix from one array per sample; all rows must have the same length.
  public init(_ rowArrays: [[Float]]) throws {
    let columns = rowArrays.first?.count ?? 0
    for (index, row) in rowArrays.enumerated() where row.count != columns {
      throw MetricsError.sizeMismatch(
        input: "FeatureMatrix row \(index)", expected: columns, actual: row.count)
    }
    try self.init(rows: rowArrays.count, columns: columns, values: rowArrays.flatMap { $0 })
  }

  /// Row `i` as an array.
  public func row(_ i: Int) -> [Float] {
    Array(values[(i * columns)..<((i + 1) * columns)])
  }

  /// The rows at `indices` (repeats allowed), as a new matrix.
  public func selecting(rows indices: [Int]) -> FeatureMatrix {
    var out = [Float]()
    out.reserveCapacity(indices.count * columns)
    for i in indices { out.append(contentsOf: values[(i * columns)..<((i + 1) * columns)]) }
    return FeatureMatrix(unchecked: indices.count, columns, out)
  }

  /// Stacks `self` on top of `other` (same column count).
  public func stacked(with other: FeatureMatrix) throws -> FeatureMatrix {
    guard other.columns == columns else {
      throw MetricsError.sizeMismatch(
        input: "feature dimension of the second matrix", expected: columns, actual: other.columns)
    }
    return FeatureMatrix(unchecked: rows + other.rows, columns, values + other.values)
  }

  init(unchecked rows: Int, _ columns: Int, _ values: [Float]) {
    self.rows = rows
    self.columns = columns
    self.values = values
  }

  /// Values as Double.
  var doubles: [Double] { values.map(Double.init) }

  /// Column means in double precision.
  func columnMeans() -> [Double] {
    var mean = [Double](repeating: 0, count: columns)
    values.withUnsafeBufferPointer { v in
      for i in 0..<rows {
        let base = i * columns
        for j in 0..<columns { mean[j] += Double(v[base + j]) }
      }
    }
    if rows > 0 { for j in 0..<columns { mean[j] /= Double(rows) } }
    return mean
  }

  /// The matrix minus `mean` per column, as Double (row-major).
  func centered(by mean: [Double]) -> [Double] {
    var out = [Double](repeating: 0, count: rows * columns)
    values.withUnsafeBufferPointer { v in
      for i in 0..<rows {
        let base = i * columns
        for j in 0..<columns { out[base + j] = Double(v[base + j]) - mean[j] }
      }
    }
    return out
  }
}
