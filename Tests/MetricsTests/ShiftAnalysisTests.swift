import Foundation
import Interchange
import Metrics
import Randomness
import TestSupport
import XCTest

final class ShiftAnalysisTests: XCTestCase {
  /// Three "sites" in 32-D: A and A′ from one distribution, B shifted in mean and scale. A vs A′
  /// must not be flagged, A vs B must be, and every distance must order A′ < B.
  func testSameSiteNotFlaggedShiftedSiteFlagged() throws {
    var g = SeededGenerator(seed: 100)
    let d = 32
    func site(_ count: Int, shift: Float, scale: Float, name: String, brightness: Double)
      -> ShiftAnalysis.Domain
    {
      var values = gaussianMatrix(rows: count, columns: d, generator: &g).values
      for i in 0..<count {
        for j in 0..<8 { values[i * d + j] = values[i * d + j] * scale + shift }
      }
      let intensities = (0..<count).map { _ -> [String: Double] in
        let pixels = (0..<64).map { _ in Float(brightness + 20 * g.normal()) }
        return IntensityShift.summarize(pixels)
      }
      var histogram = IntensityHistogram(lower: 0, upper: 255, bins: 32)
      histogram.add((0..<500).map { _ in Float(brightness + 20 * g.normal()) })
      let headers = (0..<count).map { i in
        ["Manufacturer": name == "B" ? "Siemens" : "GE", "KVP": i % 2 == 0 ? "120" : "100"]
      }
      let labels = (0..<count).map { i in name == "B" ? (i % 4 == 0 ? 1 : 0) : i % 2 }
      return ShiftAnalysis.Domain(
        name: name, features: try! FeatureMatrix(rows: count, columns: d, values: values),
        intensities: intensities, histogram: histogram, headers: headers, labels: labels)
    }
    let a = site(120, shift: 0, scale: 1, name: "A", brightness: 100)
    let a2 = site(100, shift: 0, scale: 1, name: "A", brightness: 100)
    let b = site(110, shift: 0.6, scale: 1.4, name: "B", brightness: 130)
    let options = ShiftAnalysis.Options(
      permutations: 300, bootstrapReplicates: 200, covarianceBootstrapReplicates: 30, seed: 7)
    let same = try ShiftAnalysis.run(source: a, target: a2, options: options)
    let shifted = try ShiftAnalysis.run(source: a, target: b, options: options)
    print(
      "A vs A': MMD² \(same.mmd!.mmd2) p \(same.mmd!.pValue), PAD \(same.proxyADistance!.value), FD \(same.frechetDistance!.value), CORAL \(same.coralDistance!.value)"
    )
    print(
      "A vs B : MMD² \(shifted.mmd!.mmd2) p \(shifted.mmd!.pValue), PAD \(shifted.proxyADistance!.value), FD \(shifted.frechetDistance!.value), CORAL \(shifted.coralDistance!.value)"
    )
    XCTAssertFalse(same.shiftDetected, "\(same.tests)")
    XCTAssertTrue(shifted.shiftDetected)
    XCTAssertLessThan(shifted.mmd!.pValue, 0.01)
    XCTAssertLessThan(same.mmd!.mmd2, shifted.mmd!.mmd2)
    XCTAssertLessThan(same.proxyADistance!.value, shifted.proxyADistance!.value)
    XCTAssertLessThan(same.frechetDistance!.value, shifted.frechetDistance!.value)
    XCTAssertLessThan(same.coralDistance!.value, shifted.coralDistance!.value)
    XCTAssertNotNil(shifted.frechetDistance!.interval)
    // Headers: Manufacturer differs only for B; KVP never.
    XCTAssertEqual(shifted.headers?.differing, ["Manufacturer"])
    XCTAssertEqual(same.headers?.differing, [])
    // Labels: 50/50 vs 75/25 → TV 0.25 (up to the 110-row rounding).
    XCTAssertEqual(shifted.labels!.totalVariation.value, 0.25, accuracy: 0.01)
    XCTAssertGreaterThan(shifted.histograms!.totalVariation, same.histograms!.totalVariation)
    XCTAssertEqual(shifted.tests.count, 1 + IntensityShift.percentiles.count + 2)
    XCTAssertEqual(shifted.embedding?.source.count, 120)
    XCTAssertEqual(shifted.embedding?.target.count, 110)
    XCTAssertNotNil(shifted.targetLogME)
    // The report is one JSON document that round-trips.
    let json = try JSONCoding.encoder().encode(shifted)
    XCTAssertEqual(try JSONCoding.decoder().decode(ShiftReport.self, from: json), shifted)
    XCTAssertFalse(String(decoding: json, as: UTF8.self).contains("NaN"))
  }

  func testIntensitySummaryAndHistogram() {
    let s = IntensityShift.summarize([1, 2, 3, 4, 5])
    XCTAssertEqual(s["mean"], 3)
    XCTAssertEqual(s["p50"], 3)
    XCTAssertEqual(s["p25"], 2)
    XCTAssertEqual(s["std"]!, (2.0).squareRoot(), accuracy: 1e-12)
    var h = IntensityHistogram(lower: 0, upper: 10, bins: 5)
    h.add([-1, 0, 1.99, 2, 9.99, 10, 11, .nan])
    XCTAssertEqual(h.counts, [2, 1, 0, 0, 2])
    XCTAssertEqual(h.underflow, 1)
    XCTAssertEqual(h.overflow, 1)
  }

  func testMismatchedDimensionsThrowReadableError() throws {
    let a = try FeatureMatrix(rows: 3, columns: 2, values: [0, 1, 2, 3, 4, 5])
    let b = try FeatureMatrix(rows: 3, columns: 3, values: [Float](repeating: 0, count: 9))
    XCTAssertThrowsError(
      try ShiftAnalysis.run(
        source: .init(name: "s", features: a), target: .init(name: "t", features: b))
    ) { error in
      XCTAssertTrue("\(error)".contains("expected 2 values, got 3"), "\(error)")
    }
  }
}
