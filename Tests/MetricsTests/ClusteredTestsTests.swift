import Metrics
import Randomness
import XCTest

/// Rows of one patient are correlated: tests that treat them as independent reject far too
/// often under the null. The cluster-aware permutations must hold their level.
final class ClusteredTestsTests: XCTestCase {
  /// `clusters` patients × `per` images each, every image = patient effect + small noise.
  func clustered(
    _ clusters: Int, per: Int, d: Int, prefix: String, generator g: inout SeededGenerator
  ) -> (FeatureMatrix, [String]) {
    var values = [Float]()
    var names = [String]()
    for c in 0..<clusters {
      let effect = (0..<d).map { _ in g.normal() }
      for _ in 0..<per {
        for j in 0..<d { values.append(Float(effect[j] + 0.3 * g.normal())) }
        names.append("\(prefix)\(c)")
      }
    }
    return (try! FeatureMatrix(rows: clusters * per, columns: d, values: values), names)
  }

  func testClusterPermutationMMDHoldsItsLevelWhereImagePermutationDoesNot() throws {
    var g = SeededGenerator(seed: 77)
    var clusterRejections = 0
    var imageRejections = 0
    let repetitions = 200
    for r in 0..<repetitions {
      let (s, cs) = clustered(8, per: 5, d: 4, prefix: "s", generator: &g)
      let (t, ct) = clustered(8, per: 5, d: 4, prefix: "t", generator: &g)
      let clustered = try MMD.test(
        source: s, target: t,
        options: .init(
          permutations: 99, seed: UInt64(r), bootstrap: .init(replicates: 0),
          clusters: (cs, ct)))
      let plain = try MMD.test(
        source: s, target: t,
        options: .init(permutations: 99, seed: UInt64(r), bootstrap: .init(replicates: 0)))
      if clustered.pValue <= 0.05 { clusterRejections += 1 }
      if plain.pValue <= 0.05 { imageRejections += 1 }
      XCTAssertEqual(clustered.permutationUnit, "cluster")
      XCTAssertEqual(clustered.sourceClusters, 8)
    }
    let clusterRate = Double(clusterRejections) / Double(repetitions)
    let imageRate = Double(imageRejections) / Double(repetitions)
    print(
      "MMD null rejection at α = 0.05: cluster permutation \(clusterRate), image permutation \(imageRate)"
    )
    XCTAssertTrue((0.01...0.09).contains(clusterRate), "cluster-level rate \(clusterRate)")
    XCTAssertGreaterThan(
      imageRate, 0.25, "image-level permutations should be anti-conservative here")
  }

  func testClusterPermutationMMDDetectsARealShift() throws {
    var g = SeededGenerator(seed: 78)
    let (s, cs) = clustered(10, per: 4, d: 4, prefix: "s", generator: &g)
    var (t, ct) = clustered(10, per: 4, d: 4, prefix: "t", generator: &g)
    t = try FeatureMatrix(rows: t.rows, columns: t.columns, values: t.values.map { $0 + 2.5 })
    let result = try MMD.test(
      source: s, target: t,
      options: .init(permutations: 199, bootstrap: .init(replicates: 200), clusters: (cs, ct)))
    XCTAssertLessThanOrEqual(result.pValue, 0.01)
    let interval = try XCTUnwrap(result.interval)
    XCTAssertLessThan(interval.lower, result.mmd2)
    XCTAssertGreaterThan(interval.upper, result.mmd2)
  }

  func testClusterPermutationKSHoldsItsLevel() throws {
    var g = SeededGenerator(seed: 79)
    var rejections = 0
    let repetitions = 200
    for r in 0..<repetitions {
      var x = [Double]()
      var y = [Double]()
      var cx = [String]()
      var cy = [String]()
      for c in 0..<10 {
        let e1 = g.normal()
        let e2 = g.normal()
        for _ in 0..<5 {
          x.append(e1 + 0.2 * g.normal())
          cx.append("x\(c)")
          y.append(e2 + 0.2 * g.normal())
          cy.append("y\(c)")
        }
      }
      let ks = try TwoSample.kolmogorovSmirnov(
        x, y, xClusters: cx, yClusters: cy, permutations: 99, seed: UInt64(r))
      XCTAssertEqual(ks.statistic, try TwoSample.kolmogorovSmirnov(x, y).statistic)
      if ks.pValue <= 0.05 { rejections += 1 }
    }
    let rate = Double(rejections) / Double(repetitions)
    print("KS null rejection at α = 0.05 with patient permutations: \(rate)")
    XCTAssertTrue((0.01...0.09).contains(rate), "rate \(rate)")
  }

  /// Same distribution, patients disjoint: with patient-grouped folds the domain classifier
  /// cannot win by recognising patients.
  func testGroupedFoldsKeepTheProxyADistanceNearZeroUnderTheNull() throws {
    var g = SeededGenerator(seed: 80)
    let (s, cs) = clustered(20, per: 5, d: 6, prefix: "s", generator: &g)
    let (t, ct) = clustered(20, per: 5, d: 6, prefix: "t", generator: &g)
    let grouped = try ProxyADistance.compute(
      source: s, target: t, options: .init(bootstrap: .init(replicates: 0)), clusters: (cs, ct))
    let ungrouped = try ProxyADistance.compute(
      source: s, target: t, options: .init(bootstrap: .init(replicates: 0)))
    print("PAD under the null: grouped folds \(grouped.value), image folds \(ungrouped.value)")
    XCTAssertLessThan(grouped.value, 0.6)
    XCTAssertGreaterThan(ungrouped.value, grouped.value)
  }
}
