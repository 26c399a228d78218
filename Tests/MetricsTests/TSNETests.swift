import Metrics
import Randomness
import XCTest

final class TSNETests: XCTestCase {
  /// Three clusters 12 σ apart in 30-d (50 points each): every point's nearest 2-D neighbour is
  /// in its own cluster, the clusters' 2-D spreads are far smaller than the distances between
  /// their centres, and the same seed gives the same layout.
  func testSeparatesWellSeparatedClustersDeterministically() throws {
    var g = SeededGenerator(seed: 41)
    let d = 30
    let per = 50
    var values = [Float]()
    var cluster = [Int]()
    for c in 0..<3 {
      for _ in 0..<per {
        for j in 0..<d { values.append(Float((j % 3 == c ? 12.0 : 0.0) + g.normal())) }
        cluster.append(c)
      }
    }
    let x = try FeatureMatrix(rows: 3 * per, columns: d, values: values)
    let options = TSNE.Options(perplexity: 15, iterations: 500, seed: 7)
    let y = try TSNE.embed(x, options: options)
    let n = 3 * per
    func dist2(_ i: Int, _ j: Int) -> Double {
      let a = y[2 * i] - y[2 * j]
      let b = y[2 * i + 1] - y[2 * j + 1]
      return a * a + b * b
    }
    var misplaced = 0
    for i in 0..<n {
      let nearest = (0..<n).filter { $0 != i }.min { dist2(i, $0) < dist2(i, $1) }!
      if cluster[nearest] != cluster[i] { misplaced += 1 }
    }
    XCTAssertEqual(misplaced, 0)
    var centres = [(Double, Double)](repeating: (0, 0), count: 3)
    for i in 0..<n {
      centres[cluster[i]].0 += y[2 * i] / Double(per)
      centres[cluster[i]].1 += y[2 * i + 1] / Double(per)
    }
    var spread = 0.0
    for i in 0..<n {
      let c = centres[cluster[i]]
      spread = max(
        spread,
        ((y[2 * i] - c.0) * (y[2 * i] - c.0) + (y[2 * i + 1] - c.1) * (y[2 * i + 1] - c.1))
          .squareRoot())
    }
    for a in 0..<3 {
      for b in (a + 1)..<3 {
        let gap =
          ((centres[a].0 - centres[b].0) * (centres[a].0 - centres[b].0)
          + (centres[a].1 - centres[b].1) * (centres[a].1 - centres[b].1)).squareRoot()
        XCTAssertGreaterThan(
          gap, 2 * spread, "clusters \(a), \(b): gap \(gap), max radius \(spread)")
      }
    }
    XCTAssertEqual(try TSNE.embed(x, options: options), y)
    XCTAssertNotEqual(
      try TSNE.embed(x, options: TSNE.Options(perplexity: 15, iterations: 500, seed: 8)), y)
  }

  /// The split back into sides keeps the row order, and ShiftAnalysis can ask for it.
  func testShiftAnalysisEmbedsWithTSNE() throws {
    var g = SeededGenerator(seed: 5)
    let s = gaussianMatrix(rows: 30, columns: 8, generator: &g)
    let t = gaussianMatrix(rows: 20, columns: 8, mean: 3, generator: &g)
    let report = try ShiftAnalysis.run(
      source: .init(name: "s", features: s), target: .init(name: "t", features: t),
      options: .init(
        permutations: 99, bootstrapReplicates: 0, covarianceBootstrapReplicates: 0,
        embeddingMethod: "tsne"))
    let e = try XCTUnwrap(report.embedding)
    XCTAssertEqual(e.method, "tsne")
    XCTAssertEqual(e.source.count, 30)
    XCTAssertEqual(e.target.count, 20)
    XCTAssertFalse(report.notes.isEmpty)
  }
}
