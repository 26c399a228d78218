import Foundation
import TestSupport
import XCTest

@testable import Reports

/// Closed-form checks of the report's paired test (its t-distribution is Metrics', checked in
/// MetricsTests against scipy).
final class ReportStatisticsTests: XCTestCase {
  func testPairedTest() throws {
    // Differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, se 0.1/√3, t = 2√3, df 2.
    let test = try XCTUnwrap(
      ReportStatistics.pairedTest([0.6, 0.7, 0.8], [0.5, 0.5, 0.5], confidence: 0.95))
    XCTAssertEqual(test.difference, 0.2, accuracy: 1e-12)
    XCTAssertEqual(test.t ?? 0, 2 * 3.0.squareRoot(), accuracy: 1e-9)
    let t = 2 * 3.0.squareRoot()
    XCTAssertEqual(test.pValue ?? 0, 1 - t / (t * t + 2).squareRoot(), accuracy: 1e-9)
    XCTAssertEqual(test.lower ?? 0, 0.2 - 4.302653 * 0.1 / 3.0.squareRoot(), accuracy: 1e-5)
    // One pair: no interval, no test.
    let single = try XCTUnwrap(ReportStatistics.pairedTest([0.6], [0.5], confidence: 0.95))
    XCTAssertNil(single.pValue)
    XCTAssertNil(single.lower)
    // Zero variance: interval collapses, p undefined.
    let flat = try XCTUnwrap(
      ReportStatistics.pairedTest([0.6, 0.6], [0.5, 0.5], confidence: 0.95))
    XCTAssertNil(flat.pValue)
    XCTAssertEqual(flat.lower ?? 0, 0.1, accuracy: 1e-12)
  }

  func testLabelsToMatchInterpolatesInLogSpace() {
    func point(_ n: Double, _ v: Double) -> StudyReport.CurvePoint {
      .init(
        budget: String(Int(n)), labelsPerClass: n,
        value: Interval(mean: v, lower: nil, upper: nil, n: 3))
    }
    let curve = [point(10, 0.4), point(100, 0.6), point(1000, 0.8)]
    let (x, note) = StudyReport.crossing(curve, goal: 0.7)
    XCTAssertEqual(note, "reached")
    XCTAssertEqual(x ?? 0, 316.227766, accuracy: 1e-4)
    XCTAssertNil(StudyReport.crossing(curve, goal: 0.9).0)
    XCTAssertEqual(StudyReport.crossing(curve, goal: 0.3).1, "at or below the smallest budget")
  }
}
