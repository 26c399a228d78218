import Metrics
import Randomness
import XCTest

/// Gaussian samples: `rows` × `columns`, each feature N(mean, scale²).
func gaussianMatrix(
  rows: Int, columns: Int, mean: Float = 0, scale: Float = 1, generator: inout SeededGenerator
) -> FeatureMatrix {
  let values = (0..<(rows * columns)).map { _ in mean + scale * Float(generator.normal()) }
  return try! FeatureMatrix(rows: rows, columns: columns, values: values)
}

/// Loads `Tests/MetricsTests/Fixtures/<name>` as JSON.
func loadFixture(_ name: String) throws -> [String: Any] {
  let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures").appendingPathComponent(name)
  let data = try Data(contentsOf: url)
  return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// A JSON number array as [Double].
func doubles(_ any: Any?) -> [Double] { (any as! [Any]).map { ($0 as! NSNumber).doubleValue } }

/// A JSON number array as [Int].
func ints(_ any: Any?) -> [Int] { (any as! [Any]).map { ($0 as! NSNumber).intValue } }
