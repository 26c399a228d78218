import Foundation
import Metrics
import XCTest

/// `Estimate` is the one interval estimate; study databases written before the interval types
/// were merged hold a flat form, which must still read as the same numbers.
final class EstimateTests: XCTestCase {
  func testFlatFormOfOlderDatabasesReadsAsTheSameInterval() throws {
    let old = Data(#"{"value":0.91,"lower":0.85,"upper":0.96}"#.utf8)
    let e = try JSONDecoder().decode(Estimate.self, from: old)
    XCTAssertEqual(e.value, 0.91)
    XCTAssertEqual(e.lower, 0.85)
    XCTAssertEqual(e.upper, 0.96)
    XCTAssertEqual(e.interval?.level, 0.95)
    XCTAssertEqual(e.interval?.method, "unrecorded")
    let withMethod = Data(#"{"value":0.5,"lower":0.4,"upper":0.6,"method":"delong"}"#.utf8)
    XCTAssertEqual(
      try JSONDecoder().decode(Estimate.self, from: withMethod).interval?.method, "delong")
    let bare = try JSONDecoder().decode(Estimate.self, from: Data(#"{"value":0.7}"#.utf8))
    XCTAssertNil(bare.interval)
  }

  func testCurrentFormRoundTrips() throws {
    let e = Estimate(
      value: 0.8, interval: ConfidenceInterval(lower: 0.7, upper: 0.9, level: 0.9, method: "Wilson")
    )
    let data = try JSONEncoder().encode(e)
    XCTAssertEqual(try JSONDecoder().decode(Estimate.self, from: data), e)
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    XCTAssertNotNil(object?["interval"])
    XCTAssertNil(object?["lower"], "new files are written in the current form only")
  }
}
