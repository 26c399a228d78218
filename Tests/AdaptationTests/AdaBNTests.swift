import Foundation
import Neural
import TestSupport
import XCTest

@testable import Adaptation

final class AdaBNTests: XCTestCase {
  /// AdaBN changes every BatchNorm's running statistics and nothing else.
  func testChangesRunningStatisticsOnly() throws {
    let model = makeTinyModel()
    try model.apply(.linearProbe)
    let before = checksums(model)
    let target = makeTinyImages(16, seed: 3, shift: 1.5)
    let seen = AdaBN.adapt(model, on: target, batchSize: 8)
    XCTAssertEqual(seen, 16)
    let after = checksums(model)
    for (name, values) in before {
      if name.hasSuffix("running_mean") || name.hasSuffix("running_var") {
        XCTAssertNotEqual(values, after[name]!, "\(name) should be re-estimated")
      } else if !name.hasSuffix("num_batches_tracked") {
        XCTAssertEqual(values, after[name]!, "\(name) must be bit-identical")
      }
    }
    // Flags are restored: the linear probe's statistics are frozen again.
    XCTAssertTrue(model.batchNorms.allSatisfy { $0.layer.statisticsFrozen })
  }

  /// The stem's new running mean/variance are the cumulative average over batches of the
  /// per-batch statistics of the stem convolution's output (no labels used).
  func testStatisticsAreTheCumulativeAverageOfBatchStatistics() throws {
    let model = makeTinyModel()
    let target = makeTinyImages(16, seed: 4, shift: -0.7)
    AdaBN.adapt(model, on: target, batchSize: 8)
    let stem = (model.backbone as! Sequential)["stem"] as! Sequential
    let conv = stem["conv"]!
    var mean = [Double](repeating: 0, count: 4)
    var variance = [Double](repeating: 0, count: 4)
    for indices in [Array(0..<8), Array(8..<16)] {
      let y = conv.forward(target.batch(indices), mode: .inference)
      let rows = y.count / 4
      for c in 0..<4 {
        var s = 0.0
        var s2 = 0.0
        for r in 0..<rows { s += Double(y[r * 4 + c]) }
        let m = s / Double(rows)
        for r in 0..<rows { s2 += pow(Double(y[r * 4 + c]) - m, 2) }
        mean[c] += m / 2
        variance[c] += s2 / Double(rows - 1) / 2
      }
    }
    let bn = model.batchNorms[0].layer
    let d1 = assertClose(bn.runningMean.array, mean, rtol: 1e-4, atol: 1e-5)
    let d2 = assertClose(bn.runningVariance.array, variance, rtol: 1e-4, atol: 1e-5)
    print("AdaBN statistics OK, maxdiff = \(max(d1, d2)) (rtol 1e-4)")
  }
}
