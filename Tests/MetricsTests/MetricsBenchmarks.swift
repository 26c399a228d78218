import Foundation
import Metrics
import Randomness
import XCTest

/// Wall-time measurements for the report; skipped unless MEDTRANSFER_BENCH=1 (timing is never
/// asserted in a unit test).
final class MetricsBenchmarks: XCTestCase {
  func testBenchmarkMMD1000x1000() throws {
    try XCTSkipUnless(ProcessInfo.processInfo.environment["MEDTRANSFER_BENCH"] == "1")
    var g = SeededGenerator(seed: 1)
    let d = 1280
    let s = gaussianMatrix(rows: 1000, columns: d, generator: &g)
    let t = gaussianMatrix(rows: 1000, columns: d, mean: 0.05, generator: &g)
    let start = Date()
    let r = try MMD.test(
      source: s, target: t,
      options: .init(permutations: 1000, bootstrap: .init(replicates: 0)))
    let mid = Date()
    let r2 = try MMD.test(
      source: s, target: t,
      options: .init(permutations: 1000, bootstrap: .init(replicates: 1000)))
    let end = Date()
    print(
      "BENCH MMD 1000v1000 d=1280 B=1000: \(mid.timeIntervalSince(start)) s (mmd2 \(r.mmd2), p \(r.pValue)); "
        + "with 1000 bootstrap: \(end.timeIntervalSince(mid)) s, CI \(String(describing: r2.interval))"
    )
  }
}

extension MetricsBenchmarks {
  /// The full shift analysis at the size of the issue's speed target (features given).
  func testBenchmarkShiftAnalysis1000x1000() throws {
    try XCTSkipUnless(ProcessInfo.processInfo.environment["MEDTRANSFER_BENCH"] == "1")
    var g = SeededGenerator(seed: 2)
    let d = 1280
    let s = gaussianMatrix(rows: 1000, columns: d, generator: &g)
    let t = gaussianMatrix(rows: 1000, columns: d, mean: 0.05, generator: &g)
    let labels = (0..<1000).map { $0 % 2 }
    var clock = Date()
    func lap(_ name: String) {
      print("BENCH \(name): \(String(format: "%.2f", Date().timeIntervalSince(clock))) s")
      clock = Date()
    }
    _ = try ProxyADistance.compute(
      source: s, target: t, options: .init(bootstrap: .init(replicates: 0)))
    lap("PAD 5-fold d=1280")
    _ = try GaussianDistances.frechet(source: s, target: t)
    lap("Frechet d=1280 (one)")
    _ = try GaussianDistances.coral(source: s, target: t)
    lap("CORAL d=1280 (one)")
    _ = try Projection.pca(source: s, target: t)
    lap("PCA d=1280")
    _ = try LogME.score(features: t, labels: labels)
    lap("LogME n=1000 d=1280")
    let report = try ShiftAnalysis.run(
      source: .init(name: "s", features: s, labels: labels),
      target: .init(name: "t", features: t, labels: labels))
    lap("ShiftAnalysis.run defaults (B=1000, bootstrap 1000, covariance bootstrap 50)")
    print(
      "BENCH report: MMD p \(report.mmd!.pValue), PAD \(report.proxyADistance!.value), FD \(report.frechetDistance!)"
    )
  }
}
