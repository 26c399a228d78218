import Randomness
import XCTest

@testable import Metrics

/// The MMD permutation test on class-balanced designs: both samples drawn per class (4 classes
/// with well-separated means, 10 images of each per side). Relabelling images across classes
/// unbalances the permuted groups, so the plain test is conservative; permuting within labels
/// keeps the design and is calibrated.
final class StratifiedMMDTests: XCTestCase {
  static let centres: [[Float]] = [[0, 0, 0], [3, 0, 0], [0, 3, 0], [0, 0, 3]]

  /// 10 images of each class around its centre; `shift` moves class 1 along the first axis.
  func balancedSample(_ g: inout SeededGenerator, shift: Float = 0) -> (FeatureMatrix, [Int]) {
    var values: [Float] = []
    var labels: [Int] = []
    for (c, centre) in Self.centres.enumerated() {
      for _ in 0..<10 {
        for (j, mu) in centre.enumerated() {
          values.append(mu + (c == 1 && j == 0 ? shift : 0) + Float(g.normal()))
        }
        labels.append(c)
      }
    }
    return (try! FeatureMatrix(rows: labels.count, columns: 3, values: values), labels)
  }

  func rejectionRate(shift: Float, withinLabels: Bool, repetitions: Int, seed: UInt64) throws
    -> Double
  {
    var g = SeededGenerator(seed: seed)
    var rejections = 0
    for rep in 0..<repetitions {
      let (x, lx) = balancedSample(&g)
      let (y, ly) = balancedSample(&g, shift: shift)
      let r = try MMD.test(
        source: x, target: y,
        options: .init(
          permutations: 99, seed: UInt64(rep), bootstrap: .init(replicates: 0),
          strata: withinLabels ? (lx, ly) : nil))
      if r.pValue <= 0.05 { rejections += 1 }
      XCTAssertEqual(r.permutationUnit, withinLabels ? "image within stratum" : "image")
    }
    return Double(rejections) / Double(repetitions)
  }

  func testWithinLabelPermutationsAreCalibratedWherePlainOnesAreConservative() throws {
    let plain = try rejectionRate(shift: 0, withinLabels: false, repetitions: 400, seed: 31)
    let within = try rejectionRate(shift: 0, withinLabels: true, repetitions: 400, seed: 31)
    print(
      "balanced design under the null, rejection rate at 0.05: plain \(plain), within labels \(within)"
    )
    XCTAssertLessThan(plain, 0.02, "the plain test was expected to be conservative here")
    XCTAssertGreaterThanOrEqual(within, 0.02)
    XCTAssertLessThanOrEqual(within, 0.08)
  }

  func testWithinLabelPermutationsHaveMorePowerOnABalancedDesign() throws {
    // Class 1 of the target moves by 1.5σ: a shift inside one class.
    let plain = try rejectionRate(shift: 1.5, withinLabels: false, repetitions: 100, seed: 32)
    let within = try rejectionRate(shift: 1.5, withinLabels: true, repetitions: 100, seed: 32)
    print("balanced design, class-1 shift 1.5σ, power: plain \(plain), within labels \(within)")
    // A shift of 10 images out of 40 is hard to see with a bandwidth set by the distances
    // between classes; the point is that the within-label test sees it at all: 0.15 is more
    // than 4 binomial standard deviations above the level 0.05 over 100 repetitions.
    XCTAssertGreaterThan(within, plain)
    XCTAssertGreaterThanOrEqual(within, 0.15)
  }

  func testStrataCombineWithClusters() throws {
    var g = SeededGenerator(seed: 33)
    let (x, lx) = balancedSample(&g)
    let (y, ly) = balancedSample(&g)
    // Two images per patient, each patient within one class.
    let px = (0..<40).map { "s\($0 / 2)" }
    let py = (0..<40).map { "t\($0 / 2)" }
    let r = try MMD.test(
      source: x, target: y,
      options: .init(
        permutations: 199, seed: 1, bootstrap: .init(replicates: 0), clusters: (px, py),
        strata: (lx, ly)))
    XCTAssertEqual(r.permutationUnit, "cluster within stratum")
    XCTAssertTrue(r.pValue > 1.0 / 200 && r.pValue <= 1, "\(r.pValue)")
    XCTAssertThrowsError(
      try MMD.test(source: x, target: y, options: .init(permutations: 9, strata: (lx, []))))
  }

  func testShiftAnalysisNotesABalancedDesign() throws {
    var g = SeededGenerator(seed: 34)
    let (x, lx) = balancedSample(&g)
    let (y, ly) = balancedSample(&g)
    func analyse(_ within: Bool) throws -> ShiftReport {
      try ShiftAnalysis.run(
        source: .init(name: "a", features: x, labels: lx),
        target: .init(name: "b", features: y, labels: ly),
        options: .init(
          permutations: 49, bootstrapReplicates: 0, covarianceBootstrapReplicates: 0,
          projection: false, permuteWithinLabels: within))
    }
    XCTAssertTrue(try analyse(false).notes.contains { $0.contains("--permute-within-labels") })
    let within = try analyse(true)
    XCTAssertEqual(within.mmd!.permutationUnit, "image within stratum")
    XCTAssertTrue(within.notes.contains { $0.contains("only within a class label") })
    XCTAssertThrowsError(
      try ShiftAnalysis.run(
        source: .init(name: "a", features: x), target: .init(name: "b", features: y, labels: ly),
        options: .init(permutations: 9, permuteWithinLabels: true)))
  }
}
