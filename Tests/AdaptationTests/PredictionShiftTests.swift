import XCTest

@testable import Adaptation

/// Black-box shift detection's summary on hand-made probability matrices.
final class PredictionShiftTests: XCTestCase {
  /// Rows of a confident 2-class model: p(class 0) = `p0[i]`.
  func rows(_ p0: [Float]) -> [Float] { p0.flatMap { [$0, 1 - $0] } }

  func testConfidencesAreTheMeanLargestProbability() throws {
    let source = rows([0.9, 0.8, 0.1, 0.2])  // largest: 0.9, 0.8, 0.9, 0.8 → 0.85
    let target = rows([0.6, 0.5, 0.3, 0.4])  // 0.6, 0.5, 0.7, 0.6 → 0.6
    let s = try PredictionShift.measure(
      source: source, target: target, classes: 2, permutations: 99)
    XCTAssertEqual(s.sourceMeanConfidence, 0.85, accuracy: 1e-6)
    XCTAssertEqual(s.targetMeanConfidence, 0.60, accuracy: 1e-6)
    XCTAssertEqual(s.confidenceDrop, 0.25, accuracy: 1e-6)
    XCTAssertEqual(s.sourceCount, 4)
    XCTAssertEqual(s.targetCount, 4)
    XCTAssertEqual(s.permutations, 99)
  }

  func testSameModelBehaviourIsNotFlaggedAndACollapseIs() throws {
    func confident(_ n: Int, offset: Int) -> [Float] {
      (0..<n).map { i in Float((i * 7919 + offset) % 100) / 100 < 0.5 ? 0.95 : 0.05 }
    }
    let a = rows(confident(120, offset: 1))
    let b = rows(confident(120, offset: 2))
    let same = try PredictionShift.measure(source: a, target: b, classes: 2, permutations: 199)
    XCTAssertGreaterThan(same.pValue, 0.05, "\(same)")
    // Target: the model hesitates on everything (probabilities near 0.5).
    let collapsed = rows((0..<120).map { i in 0.45 + Float(i % 10) / 100 })
    let shifted = try PredictionShift.measure(
      source: a, target: collapsed, classes: 2, permutations: 199)
    XCTAssertEqual(shifted.pValue, 1.0 / 200, accuracy: 1e-12)
    XCTAssertGreaterThan(shifted.mmd2, same.mmd2)
    XCTAssertGreaterThan(shifted.confidenceDrop, 0.4)
  }
}
