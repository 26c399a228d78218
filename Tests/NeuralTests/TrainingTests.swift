// Cross-entropy against hand-computed values, and optimizer steps against PyTorch's update rules
// written out by hand (SGD momentum/Nesterov with coupled weight decay, AdamW), schedules.

import TestSupport
import XCTest

@testable import Neural

final class CrossEntropyTests: XCTestCase {
  func testValueAndGradient() {
    let logits = Tensor(shape: [2, 3], values: [1, 2, 3, 0, 0, 0])
    let labels = [2, 0]
    for smoothing in [Float(0), 0.1] {
      let loss = SoftmaxCrossEntropy(labelSmoothing: smoothing)
      let value = loss.forward(logits: logits, labels: labels)
      // By hand: logsumexp and the smoothed target.
      var expected = 0.0
      for i in 0..<2 {
        let row = (0..<3).map { Double(logits[i * 3 + $0]) }
        let lse = log(row.map { exp($0) }.reduce(0, +))
        let nll = lse - row[labels[i]]
        let uniform = row.map { lse - $0 }.reduce(0, +) / 3
        expected += (1 - Double(smoothing)) * nll + Double(smoothing) * uniform
      }
      assertClose([value], [expected / 2], rtol: 1e-6, atol: 1e-7)
      // Finite differences of the loss itself.
      let grad = loss.backward().clone()
      for i in 0..<6 {
        let saved = logits[i]
        logits[i] = saved + 1e-2
        let plus = Double(loss.forward(logits: logits, labels: labels))
        logits[i] = saved - 1e-2
        let minus = Double(loss.forward(logits: logits, labels: labels))
        logits[i] = saved
        assertClose([grad[i]], [(plus - minus) / 2e-2], rtol: 1e-2, atol: 1e-4)
      }
    }
  }
}

final class OptimizerTests: XCTestCase {
  func parameter(_ values: [Float], grad: [Float]) -> Parameter {
    let p = Parameter(Tensor(shape: [values.count], values: values))
    p.grad.copy(from: Tensor(shape: [grad.count], values: grad))
    return p
  }

  func testSGDMomentumWeightDecay() {
    // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01), two steps, same gradient.
    let p = parameter([1, -2], grad: [0.5, 0.25])
    let sgd = SGD(parameters: [("w", p)], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
    sgd.step()
    // step 1: d = g + 0.01·w = [0.51, 0.23]; buf = d; w = w − 0.1·d
    assertClose(p.value.array, [1 - 0.051, -2 - 0.023], rtol: 1e-6, atol: 1e-7)
    sgd.step()
    // step 2: d = g + 0.01·w; buf = 0.9·buf + d; w −= 0.1·buf
    let w1 = [0.949, -2.023]
    let d2 = [0.5 + 0.01 * w1[0], 0.25 + 0.01 * w1[1]]
    let buf2 = [0.9 * 0.51 + d2[0], 0.9 * 0.23 + d2[1]]
    assertClose(
      p.value.array, [w1[0] - 0.1 * buf2[0], w1[1] - 0.1 * buf2[1]], rtol: 1e-6, atol: 1e-6)
  }

  func testSGDNesterovGroupsAndFrozen() {
    let a = parameter([1], grad: [1])
    let b = parameter([1], grad: [1])
    let frozen = parameter([1], grad: [1])
    frozen.frozen = true
    let sgd = SGD(
      groups: [
        ParameterGroup([("a", a)], learningRate: 0.1),
        ParameterGroup([("b", b), ("f", frozen)], learningRate: 0.01),
      ], momentum: 0.5, nesterov: true)
    sgd.learningRateFactor = 0.5
    sgd.step()
    // Nesterov: buf = g = 1; update d + μ·buf = 1.5; lr 0.1·0.5.
    assertClose(a.value.array, [1 - 0.05 * 1.5], rtol: 1e-6, atol: 1e-7)
    assertClose(b.value.array, [1 - 0.005 * 1.5], rtol: 1e-6, atol: 1e-7)
    XCTAssertEqual(frozen.value.array, [1])
    sgd.step()
    // buf = 0.5·1 + 1 = 1.5; update 1 + 0.5·1.5 = 1.75.
    assertClose(a.value.array, [1 - 0.075 - 0.05 * 1.75], rtol: 1e-6, atol: 1e-7)
  }

  func testAdamW() {
    // torch.optim.AdamW(lr=0.01, weight_decay=0.1), gradients 0.5 then -0.2.
    let p = parameter([2], grad: [0.5])
    let adam = AdamW(parameters: [("w", p)], learningRate: 0.01, weightDecay: 0.1)
    adam.step()
    var w = 2.0 * (1 - 0.001)
    var m = 0.1 * 0.5
    var v = 0.001 * 0.25
    w -= 0.01 / (1 - 0.9) * m / ((v).squareRoot() / (1 - 0.999).squareRoot() + 1e-8)
    assertClose(p.value.array, [w], rtol: 1e-6, atol: 1e-6)
    p.grad.copy(from: Tensor(shape: [1], values: [-0.2]))
    adam.step()
    w *= 1 - 0.001
    m = 0.9 * m + 0.1 * -0.2
    v = 0.999 * v + 0.001 * 0.04
    w -= 0.01 / (1 - 0.81) * m / (v.squareRoot() / (1 - 0.999 * 0.999).squareRoot() + 1e-8)
    assertClose(p.value.array, [w], rtol: 1e-6, atol: 1e-6)
  }

  func testSchedules() {
    let cosine = CosineSchedule(warmupSteps: 2, totalSteps: 6, minimumFactor: 0.1)
    assertClose(
      (0..<7).map { cosine.factor(at: $0) },
      [
        0.5, 1, 1, 0.1 + 0.9 * 0.5 * (1 + cos(Double.pi / 4)), 0.55,
        0.1 + 0.9 * 0.5 * (1 + cos(3 * Double.pi / 4)), 0.1,
      ], rtol: 1e-12, atol: 1e-12)
    let step = StepSchedule(stepSize: 3, gamma: 0.5)
    XCTAssertEqual((0..<7).map { step.factor(at: $0) }, [1, 1, 1, 0.5, 0.5, 0.5, 0.25])
  }
}

final class StateDictTests: XCTestCase {
  func model() -> Sequential {
    Sequential([
      (
        "_conv_stem",
        Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: .same)
      ),
      ("_bn0", BatchNorm2d(channels: 4, eps: 1e-3, activation: .relu6)),
      (
        "_dw", Conv2d(inputChannels: 4, outputChannels: 4, kernelSize: 3, padding: .same, groups: 4)
      ),
    ])
  }

  func testRoundTripAndStrictErrors() throws {
    let source = model()
    source.resetParameters(seed: 1)
    (source["_bn0"] as! BatchNorm2d).runningVar.fill(2)
    let dict = Dictionary(uniqueKeysWithValues: source.stateDict().map { ($0.name, $0.tensor) })
    XCTAssertEqual(dict["_conv_stem.weight"]?.shape, [4, 3, 3, 3])
    XCTAssertEqual(dict["_dw.weight"]?.shape, [4, 1, 3, 3])
    let target = model()
    try target.loadStateDict(dict)
    let x = randomTensor([1, 6, 6, 3], seed: 2)
    XCTAssertEqual(
      target.forward(x, mode: .inference).array, source.forward(x, mode: .inference).array)

    var missing = dict
    missing["_bn0.running_mean"] = nil
    XCTAssertThrowsError(try target.loadStateDict(missing)) {
      XCTAssertEqual($0 as? NeuralError, .missingKey(key: "_bn0.running_mean"))
    }
    var extra = dict
    extra["_fc.weight"] = Tensor(shape: [1])
    XCTAssertThrowsError(try target.loadStateDict(extra)) {
      XCTAssertEqual($0 as? NeuralError, .unexpectedKeys(keys: ["_fc.weight"]))
    }
    var wrong = dict
    wrong["_dw.weight"] = Tensor(shape: [4, 1, 5, 5])
    XCTAssertThrowsError(try target.loadStateDict(wrong)) {
      XCTAssertEqual(
        $0 as? NeuralError,
        .shapeMismatch(key: "_dw.weight", expected: [4, 1, 3, 3], actual: [4, 1, 5, 5]))
      XCTAssert("\($0)".contains("_dw.weight"))
    }
  }
}
