import Foundation
import Neural
import TestSupport
import XCTest

@testable import Adaptation

final class CORALLossTests: XCTestCase {
  private func features(_ n: Int, _ d: Int, seed: Double, scale: Float) -> [Float] {
    (0..<(n * d)).map { scale * Float(sin(Double($0) * 1.37 + seed) + cos(Double($0 * $0) * 0.11)) }
  }

  /// Identical samples have zero loss and zero gradient.
  func testIdenticalSamplesGiveZero() {
    let x = features(6, 3, seed: 0, scale: 1)
    let r = CORALLoss.compute(source: x, sourceCount: 6, target: x, targetCount: 6, dimension: 3)
    XCTAssertEqual(r.loss, 0, accuracy: 1e-12)
    XCTAssertTrue(r.sourceGradient.allSatisfy { abs($0) < 1e-7 })
  }

  /// Closed form: 1-D features, ℓ = (var_S − var_T)²/4.
  func testOneDimensionalClosedForm() {
    let s: [Float] = [0, 2]  // var 2
    let t: [Float] = [0, 1, 2, 3]  // var 5/3
    let r = CORALLoss.compute(source: s, sourceCount: 2, target: t, targetCount: 4, dimension: 1)
    XCTAssertEqual(r.loss, pow(2.0 - 5.0 / 3.0, 2) / 4, accuracy: 1e-12)
  }

  /// Forward and backward agree: central differences on every source and target element.
  func testGradientMatchesFiniteDifferences() {
    let (nS, nT, d) = (5, 4, 3)
    var xs = features(nS, d, seed: 0.3, scale: 1)
    var xt = features(nT, d, seed: 2.1, scale: 0.5)
    let r = CORALLoss.compute(
      source: xs, sourceCount: nS, target: xt, targetCount: nT, dimension: d)
    XCTAssertGreaterThan(r.loss, 0)
    let h: Float = 1e-2
    var maxDiff = 0.0
    func loss() -> Double {
      CORALLoss.compute(source: xs, sourceCount: nS, target: xt, targetCount: nT, dimension: d).loss
    }
    for i in 0..<xs.count {
      let fd = centralDifference(step: h, of: loss, set: { xs[i] = $0 }, at: xs[i])
      maxDiff = max(maxDiff, abs(fd - Double(r.sourceGradient[i])))
      XCTAssertEqual(Double(r.sourceGradient[i]), fd, accuracy: 1e-4 + 1e-3 * abs(fd))
    }
    for i in 0..<xt.count {
      let fd = centralDifference(step: h, of: loss, set: { xt[i] = $0 }, at: xt[i])
      maxDiff = max(maxDiff, abs(fd - Double(r.targetGradient[i])))
      XCTAssertEqual(Double(r.targetGradient[i]), fd, accuracy: 1e-4 + 1e-3 * abs(fd))
    }
    print("CORAL gradient OK, maxdiff = \(maxDiff) (tolerance 1e-4 + 1e-3·|fd|)")
  }
}
