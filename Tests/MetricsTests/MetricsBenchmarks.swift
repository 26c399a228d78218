import Foundation
import Metrics
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
        + "with 1000 bootstrap: \(end.timeIntervalSince(mid)) s, CI \(String(describing: r2.interval))")
  }
}
