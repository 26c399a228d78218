import Foundation
import Neural
import TestSupport
import XCTest

@testable import Adaptation

final class WeightPenaltyTests: XCTestCase {
  private func parameter(_ shape: [Int], seed: Int) -> Parameter {
    let n = shape.reduce(1, *)
    return Parameter(
      Tensor(shape: shape, values: (0..<n).map { Float(sin(Double($0 * 7 + seed))) }))
  }

  /// L2-SP's gradient is α(w − w⁰) on the shared weights and βw on the head, and nothing on
  /// biases or BatchNorm parameters by default.
  func testL2SPGradientIsAlphaTimesDriftAndBetaTimesHead() {
    let conv = parameter([4, 3, 3, 3], seed: 1)
    let bnWeight = parameter([4], seed: 2)
    let fc = parameter([5, 4], seed: 3)
    let fcBias = parameter([5], seed: 4)
    let shared = [
      (name: "stem.conv.weight", parameter: conv), (name: "stem.bn.weight", parameter: bnWeight),
    ]
    let head = [(name: "head.fc.weight", parameter: fc), (name: "head.fc.bias", parameter: fcBias)]
    let penalty = WeightPenalty.l2sp(shared: shared, head: head, alpha: 0.1, beta: 0.01)
    XCTAssertEqual(penalty.terms.map(\.name), ["stem.conv.weight", "head.fc.weight"])
    let w0 = conv.value.array
    // Move the shared weights away from their anchor.
    for i in 0..<conv.value.count { conv.value[i] += Float(i % 5) * 0.25 - 0.5 }
    penalty.accumulateGradients()
    let expectedConv = zip(conv.value.array, w0).map { 0.1 * ($0 - $1) }
    assertClose(conv.grad.array, expectedConv, rtol: 1e-6, atol: 1e-7)
    assertClose(fc.grad.array, fc.value.array.map { 0.01 * $0 }, rtol: 1e-6, atol: 1e-7)
    XCTAssertTrue(bnWeight.grad.array.allSatisfy { $0 == 0 })
    XCTAssertTrue(fcBias.grad.array.allSatisfy { $0 == 0 })
    // The value matches α/2‖w − w⁰‖² + β/2‖w‖².
    let drift = zip(conv.value.array, w0).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
    let headNorm = fc.value.array.reduce(0.0) { $0 + Double($1 * $1) }
    XCTAssertEqual(penalty.value(), 0.05 * drift + 0.005 * headNorm, accuracy: 1e-6)
  }

  /// The gradient is the derivative of the value (central differences, every element).
  func testGradientMatchesFiniteDifferences() {
    let conv = parameter([2, 3, 1, 1], seed: 5)
    let bn = parameter([2], seed: 6)
    let penalty = WeightPenalty.l2sp(
      shared: [
        (name: "block.bn1.weight", parameter: bn), (name: "block.conv.weight", parameter: conv),
      ],
      head: [], alpha: 0.3, beta: 0, scope: .weightsAndBatchNormAffine)
    XCTAssertEqual(penalty.terms.count, 2)
    for p in [conv, bn] { for i in 0..<p.value.count { p.value[i] *= 1.5 } }
    penalty.accumulateGradients()
    for p in [conv, bn] {
      for i in 0..<p.value.count {
        let h: Float = 1e-2
        let x = p.value[i]
        p.value[i] = x + h
        let up = penalty.value()
        p.value[i] = x - h
        let down = penalty.value()
        p.value[i] = x
        XCTAssertEqual(Double(p.grad[i]), (up - down) / Double(2 * h), accuracy: 1e-4)
      }
    }
  }

  /// Plain weight decay is the same code path with a zero anchor: gradient λw.
  func testWeightDecayIsZeroAnchoredL2SP() {
    let w = parameter([3, 2], seed: 7)
    let decay = WeightPenalty.weightDecay([(name: "fc.weight", parameter: w)], lambda: 0.5)
    XCTAssertNil(decay.terms[0].anchor)
    decay.accumulateGradients()
    assertClose(w.grad.array, w.value.array.map { 0.5 * $0 }, rtol: 1e-6, atol: 0)
  }

  /// Frozen parameters are neither penalised nor given a gradient.
  func testFrozenParametersAreSkipped() {
    let w = parameter([3, 2], seed: 8)
    w.frozen = true
    let decay = WeightPenalty.weightDecay([(name: "fc.weight", parameter: w)], lambda: 0.5)
    decay.accumulateGradients()
    XCTAssertEqual(decay.value(), 0)
    XCTAssertTrue(w.grad.array.allSatisfy { $0 == 0 })
  }

  func testRegularizerSpecParsing() throws {
    XCTAssertEqual(try RegularizerSpec(parsing: "l2sp:alpha=0.1,beta=0.01"), .l2sp())
    XCTAssertEqual(try RegularizerSpec(parsing: "l2sp"), .l2sp())
    XCTAssertEqual(try RegularizerSpec(parsing: "none"), RegularizerSpec.none)
    let bn = try RegularizerSpec(parsing: "l2sp:alpha=1,beta=0,bn=true")
    XCTAssertEqual(bn.scope, .weightsAndBatchNormAffine)
    XCTAssertEqual(try RegularizerSpec(parsing: bn.description), bn)
    XCTAssertEqual(try RegularizerSpec(parsing: "l2:lambda=0.001").anchor, .zero)
    XCTAssertThrowsError(try RegularizerSpec(parsing: "l2sp:alpha=x"))
    XCTAssertThrowsError(try RegularizerSpec(parsing: "l2sp:gamma=1"))
    XCTAssertThrowsError(try RegularizerSpec(parsing: "dropconnect"))
  }

  func testStrategyParsingAndStages() throws {
    for s in ["scratch", "linear-probe", "features+logreg", "partial(2)", "full"] {
      XCTAssertEqual(try Strategy(parsing: s).description, s)
    }
    // The older command-line spelling still parses, to the one canonical spelling.
    XCTAssertEqual(try Strategy(parsing: "partial:2"), .partial(stages: 2))
    XCTAssertEqual(try Strategy(parsing: "partial(2)").trainedStages(of: 7), [5, 6])
    XCTAssertEqual(try Strategy.linearProbe.trainedStages(of: 7), [])
    XCTAssertThrowsError(try Strategy(parsing: "partial:9").trainedStages(of: 7))
    XCTAssertThrowsError(try Strategy(parsing: "everything"))
  }
}
