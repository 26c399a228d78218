import Foundation
import Metrics
import TestSupport
import XCTest

@testable import Adaptation

final class EvaluatorTests: XCTestCase {
  /// Per-class AUROC against a brute-force pair count (ties ½), and the Wilson interval of the
  /// accuracy against its closed form: the evaluator reports Metrics' numbers unchanged.
  func testAUROCMatchesPairCount() {
    let scores: [Float] = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.55]
    let positives = [false, true, false, true, false, true, false, false]
    var wins = 0.0
    var pairs = 0.0
    for i in scores.indices where positives[i] {
      for j in scores.indices where !positives[j] {
        pairs += 1
        wins += scores[i] > scores[j] ? 1 : (scores[i] == scores[j] ? 0.5 : 0)
      }
    }
    let p = scores.flatMap { [1 - $0, $0] }
    let r = Evaluator.classification(
      probabilities: p, labels: positives.map { $0 ? 1 : 0 },
      classes: ["a", "b"], bootstrapReplicates: 50)
    XCTAssertEqual(r.perClassAUROC["b"]!.value, wins / pairs, accuracy: 1e-6)
    XCTAssertEqual(r.perClassAUROC["b"]!.interval?.method, "DeLong")
    XCTAssertEqual(
      r.macroAUROC!.interval?.method.hasPrefix("stratified percentile bootstrap"), true)
    // 8 images; the Wilson interval is Metrics' (checked against scipy there).
    let correct = (0..<8).filter { (scores[$0] > 0.5) == positives[$0] }.count
    let wilson = Classification.wilsonInterval(successes: correct, count: 8)!
    XCTAssertEqual(r.accuracy.lower, wilson.lower)
    XCTAssertEqual(r.accuracy.upper, wilson.upper)
  }

  /// Closed-form confusion, balanced accuracy, macro-F1 and ECE on four predictions.
  func testClosedFormMetrics() {
    // Rows: predicted class 0 (0.9), 0 (0.6), 1 (0.8), 1 (0.7); labels 0, 1, 1, 0.
    let p: [Float] = [0.9, 0.1, 0.6, 0.4, 0.2, 0.8, 0.3, 0.7]
    let labels = [0, 1, 1, 0]
    let r = Evaluator.classification(
      probabilities: p, labels: labels, classes: ["a", "b"],
      bootstrapReplicates: 50)
    XCTAssertEqual(r.confusion, [[1, 1], [1, 1]])
    XCTAssertEqual(r.accuracy.value, 0.5)
    XCTAssertEqual(r.balancedAccuracy, 0.5)
    XCTAssertEqual(r.macroF1, 0.5)
    // Bins: 0.6 → (8/15, 9/15], 0.7 → (10/15, 11/15], 0.8 → (11/15, 12/15], 0.9 → (13/15, 14/15];
    // each bin one prediction: ECE = mean |correct − confidence|.
    let gaps: [Double] = [1 - 0.9, 0.6, 1 - 0.8, 0.7]
    let expected = gaps.reduce(0, +) / 4
    XCTAssertEqual(r.ece, expected, accuracy: 1e-6)
    XCTAssertEqual(r.accuracy.interval?.method, "Wilson")
  }

  /// Per-domain and per-subgroup breakdowns partition the images.
  func testBreakdowns() {
    let p: [Float] = [0.9, 0.1, 0.2, 0.8, 0.7, 0.3, 0.4, 0.6]
    let report = Evaluator.report(
      probabilities: p, labels: [0, 1, 1, 1], classes: ["a", "b"],
      domains: ["A", "A", "B", "B"],
      subgroups: [["sex=F"], ["sex=M"], ["sex=F"], ["sex=M"]],
      bootstrapReplicates: 20)
    XCTAssertEqual(report.perDomain["A"]?.accuracy.value, 1)
    XCTAssertEqual(report.perDomain["B"]?.accuracy.value, 0.5)
    XCTAssertEqual(report.perSubgroup.keys.sorted(), ["sex=F", "sex=M"])
    XCTAssertEqual(report.perSubgroup["sex=F"]?.count, 2)
  }

  func testEarlyStoppingPatience() {
    var s = EarlyStopping(patience: 2)
    XCTAssertTrue(s.record(0.5, epoch: 1))
    XCTAssertFalse(s.record(0.4, epoch: 2))
    XCTAssertFalse(s.shouldStop)
    XCTAssertTrue(s.record(0.6, epoch: 3))
    XCTAssertFalse(s.record(0.6, epoch: 4))
    XCTAssertFalse(s.record(0.59, epoch: 5))
    XCTAssertTrue(s.shouldStop)
    XCTAssertEqual(s.bestEpoch, 3)
  }
}
