// BatchNorm2d, activations, dropout, pooling, Linear, Residual and Sequential: closed-form
// forward values and finite-difference gradient checks (inputs and parameters).

import TestSupport
import XCTest

@testable import Neural

final class BatchNormTests: XCTestCase {

  func testTrainingStatisticsAndRunningUpdate() {
    let bn = BatchNorm2d(channels: 3, eps: 1e-3, momentum: 0.1)
    let x = randomTensor([2, 3, 2, 3], seed: 4, low: 1, high: 3)
    let y = bn.forward(x, mode: .training)
    let m = x.count / 3
    for c in 0..<3 {
      var values: [Double] = []
      for r in 0..<m { values.append(Double(x[r * 3 + c])) }
      let mean = values.reduce(0, +) / Double(m)
      let biased = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(m)
      let unbiased = biased * Double(m) / Double(m - 1)
      assertClose([bn.runningMean[c]], [0.1 * mean], rtol: 1e-5, atol: 1e-6)
      assertClose([bn.runningVar[c]], [0.9 + 0.1 * unbiased], rtol: 1e-5, atol: 1e-6)
      let expected = values.map { ($0 - mean) / (biased + 1e-3).squareRoot() }
      let actual = (0..<m).map { y[$0 * 3 + c] }
      assertClose(actual, expected, rtol: 1e-4, atol: 1e-5)
    }
    XCTAssertEqual(bn.numBatchesTracked[0], 1)
  }

  func testInferenceAndFrozenUseRunningStatistics() {
    let bn = BatchNorm2d(channels: 4, eps: 1e-3, activation: .relu6)
    randomizeBatchNorm(bn, seed: 10, varianceLow: 0.5)
    let x = randomTensor([2, 2, 3, 4], seed: 5, low: -4, high: 9)
    var expected: [Double] = []
    for i in 0..<x.count {
      let c = i % 4
      let z =
        (Double(x[i]) - Double(bn.runningMean[c]))
        / (Double(bn.runningVar[c]) + 1e-3).squareRoot() * Double(bn.weight.value[c])
        + Double(bn.bias.value[c])
      expected.append(min(max(z, 0), 6))
    }
    assertClose(bn.forward(x, mode: .inference).array, expected, rtol: 1e-5, atol: 1e-5)
    let before = bn.runningMean.array
    bn.freezeStatistics = true
    assertClose(bn.forward(x, mode: .training).array, expected, rtol: 1e-5, atol: 1e-5)
    XCTAssertEqual(bn.runningMean.array, before, "frozen statistics are not updated")
    XCTAssertEqual(bn.numBatchesTracked[0], 0)
  }

  func testGradientsBatchStatistics() {
    for act in [Activation.identity, .relu6, .relu] {
      let bn = BatchNorm2d(channels: 11, eps: 1e-3, activation: act)
      randomizeBatchNorm(bn, seed: 20, varianceLow: 0.5)
      checkGradients(
        bn, input: randomTensor([3, 4, 3, 11], seed: 21, low: -2, high: 2), eps: 1e-3, samples: 30,
        kinks: true)
    }
  }

  func testOverwritingOutputGradientMatchesOwnBuffer() {
    for frozen in [false, true] {
      let bn = BatchNorm2d(channels: 12, eps: 1e-3, activation: .relu6)
      randomizeBatchNorm(bn, seed: 30, varianceLow: 0.5)
      bn.freezeStatistics = frozen
      let x = randomTensor([2, 3, 5, 12], seed: 31, low: -3, high: 8)
      let dy = randomTensor(x.shape, seed: 32)
      _ = bn.forward(x, mode: .training)
      let expected = bn.backward(dy).array
      let gradients = bn.parameters.map { $0.parameter.grad.array }
      bn.zeroGrad()
      bn.overwritesOutputGradient = true
      _ = bn.forward(x, mode: .training)
      let dx = bn.backward(dy)
      XCTAssertTrue(dx === dy, "dx is written over dy")
      XCTAssertEqual(dx.array, expected)
      XCTAssertEqual(bn.parameters.map { $0.parameter.grad.array }, gradients)
    }
  }

  func testGradientsFrozenStatistics() {
    let bn = BatchNorm2d(channels: 9, eps: 1e-3, activation: .relu6)
    randomizeBatchNorm(bn, seed: 30, varianceLow: 0.5)
    bn.freezeStatistics = true
    checkGradients(
      bn, input: randomTensor([2, 3, 3, 9], seed: 31, low: -3, high: 3), eps: 1e-3, samples: 30,
      kinks: true)
  }
}

final class PointwiseLayerTests: XCTestCase {
  func testReLU6AndReLU() {
    let x = Tensor(shape: [2, 5], values: [-1, 0.5, 3, 6.5, 7, -0.2, 5.9, 2, 1, -3])
    XCTAssertEqual(ReLU6().forward(x, mode: .inference).array, [0, 0.5, 3, 6, 6, 0, 5.9, 2, 1, 0])
    XCTAssertEqual(ReLU().forward(x, mode: .inference).array, [0, 0.5, 3, 6.5, 7, 0, 5.9, 2, 1, 0])
    // Gradient checks on inputs away from the kinks at 0 and 6.
    let input = randomTensor([3, 4, 5, 7], seed: 40, low: -3, high: 9)
    for i in 0..<input.count where abs(input[i]) < 0.05 || abs(input[i] - 6) < 0.05 { input[i] = 1 }
    checkGradients(ReLU6(), input: input)
    checkGradients(ReLU(), input: input)
  }

  func testDropoutIsSeededAndInverted() {
    let drop = Dropout(probability: 0.25, seed: 3)
    let x = Tensor(shape: [4, 100])
    x.fill(1)
    let y = drop.forward(x, mode: .training).array
    let kept = y.filter { $0 != 0 }
    XCTAssert(kept.allSatisfy { abs($0 - 4.0 / 3.0) < 1e-6 }, "kept values are scaled by 1/(1−p)")
    XCTAssert(kept.count > 250 && kept.count < 350, "about 75% kept, got \(kept.count)")
    drop.reseed(3)
    XCTAssertEqual(drop.forward(x, mode: .training).array, y, "same seed, same mask")
    XCTAssertEqual(drop.forward(x, mode: .inference).array, x.array)
    checkGradients(drop, input: randomTensor([2, 6, 5], seed: 41), prepare: { drop.reseed(9) })
  }

  func testGlobalAveragePool() {
    let pool = GlobalAveragePool()
    let x = randomTensor([2, 3, 4, 5], seed: 42)
    let y = pool.forward(x, mode: .training)
    XCTAssertEqual(y.shape, [2, 5])
    var expected = [Double](repeating: 0, count: 10)
    for n in 0..<2 {
      for j in 0..<12 {
        for c in 0..<5 { expected[n * 5 + c] += Double(x[(n * 12 + j) * 5 + c]) / 12 }
      }
    }
    assertClose(y.array, expected, rtol: 1e-5, atol: 1e-6)
    checkGradients(pool, input: x)
  }

  func testLinear() {
    let linear = Linear(inputFeatures: 3, outputFeatures: 2)
    linear.weight.value.copy(from: Tensor(shape: [2, 3], values: [1, 2, 3, -1, 0, 1]))
    linear.bias!.value.copy(from: Tensor(shape: [2], values: [0.5, -0.5]))
    let y = linear.forward(Tensor(shape: [1, 3], values: [1, 1, 2]), mode: .inference)
    XCTAssertEqual(y.array, [9.5, 0.5])
    checkGradients(
      Linear(inputFeatures: 7, outputFeatures: 4), input: randomTensor([5, 7], seed: 43))
  }
}

final class ContainerTests: XCTestCase {
  func block() -> Sequential {
    Sequential([
      ("_expand_conv", Conv2d(inputChannels: 8, outputChannels: 16, kernelSize: 1)),
      ("_bn0", BatchNorm2d(channels: 16, eps: 1e-3, activation: .relu6)),
      (
        "_depthwise_conv",
        Conv2d(
          inputChannels: 16, outputChannels: 16, kernelSize: 3, padding: .same, groups: 16)
      ),
      ("_bn1", BatchNorm2d(channels: 16, eps: 1e-3, activation: .relu6)),
      ("_project_conv", Conv2d(inputChannels: 16, outputChannels: 8, kernelSize: 1)),
      ("_bn2", BatchNorm2d(channels: 8, eps: 1e-3)),
    ])
  }

  func testNamesFollowPyTorch() {
    let model = Sequential([
      ("_blocks", Sequential([Residual(block())])),
      ("_fc", Linear(inputFeatures: 8, outputFeatures: 3)),
    ])
    let names = model.parameters.map(\.name)
    XCTAssertEqual(names.first, "_blocks.0._expand_conv.weight")
    XCTAssert(names.contains("_blocks.0._bn1.bias"))
    XCTAssertEqual(names.last, "_fc.bias")
    XCTAssert(model.buffers.map(\.name).contains("_blocks.0._bn2.running_var"))
    XCTAssert(model.buffers.map(\.name).contains("_blocks.0._bn2.num_batches_tracked"))
  }

  func testGradientsThroughResidualBlock() {
    // Frozen statistics (a fixed function of x), then batch statistics through the block.
    // With β = 0, a depthwise output whose whole receptive field was zeroed by the ReLU6 before
    // it is exactly 0 (frozen, running mean 0), and a channel the ReLU6 zeroed everywhere
    // normalises to exactly 0 (batch statistics): both sit on the next ReLU6's kink, where the
    // central difference is ½ and PyTorch's convention 0, and which side the analytic gradient
    // takes depends on the last bit of the GEMM. With batch statistics and β = 0 this check
    // passed with OpenBLAS's Haswell SGEMM kernel and failed with its Nehalem one (2 of 30
    // samples). β in [0.2, 1) moves those points off the kink in both blocks.
    // Explicit seeds: layers built without one draw from a process-wide counter, so their
    // weights depended on how many layers earlier tests had built (the fresh-clone suite once
    // failed here at dx[93] after passing in every other run).
    func offKink(_ body: Sequential, seed: UInt64, freeze: Bool) -> Sequential {
      body.resetParameters(seed: seed)
      for (i, (_, layer)) in body.layers.enumerated() {
        guard let bn = layer as? BatchNorm2d else { continue }
        bn.bias.value.copy(
          from: randomTensor([bn.channels], seed: seed + UInt64(i), low: 0.2, high: 1))
        bn.freezeStatistics = freeze
      }
      return body
    }
    checkGradients(
      Residual(offKink(block(), seed: 70, freeze: true)),
      input: randomTensor([2, 5, 4, 8], seed: 50),
      eps: 1e-3, samples: 30, kinks: true)
    checkGradients(
      Residual(offKink(block(), seed: 80, freeze: false)),
      input: randomTensor([2, 5, 4, 8], seed: 51),
      eps: 1e-3, samples: 30, kinks: true)
  }

  func testDropPath() {
    let residual = Residual(
      Linear(inputFeatures: 4, outputFeatures: 4), dropPathProbability: 0.5, seed: 1)
    checkGradients(
      residual, input: randomTensor([6, 4], seed: 52), prepare: { residual.reseed(1) })
    let x = randomTensor([6, 4], seed: 53)
    let inference = residual.forward(x, mode: .inference).array
    let body = (residual.body as! Linear).forward(x, mode: .inference).array
    assertClose(inference, zip(x.array, body).map { $0 + $1 }, rtol: 1e-6, atol: 1e-6)
  }

  func testProfilerRecordsLeaves() {
    Profiler.reset()
    Profiler.enabled = true
    defer { Profiler.enabled = false }
    let model = Sequential([("_blocks", Sequential([Residual(block())]))])
    let y = model.forward(randomTensor([2, 4, 4, 8], seed: 54), mode: .training)
    _ = model.backward(y)
    let paths = Profiler.entries.filter { !$0.isContainer }.map(\.path)
    XCTAssert(paths.contains("_blocks.0._depthwise_conv"), "\(paths)")
    XCTAssert(Profiler.summary().contains { $0.kind == "DWConv 3x3 s1" && $0.backwardSeconds > 0 })
  }
}
