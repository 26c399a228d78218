// FoldedConv2d against the unfolded path it replaces: Conv2d → BatchNorm2d(.inference) (with
// its fused activation) [→ + residual], for every kind of convolution EfficientNet-Lite uses.

import TestSupport
import XCTest

@testable import Neural

final class FoldedConv2dTests: XCTestCase {

  /// Folded vs unfolded on one input; prints the max difference.
  func check(
    _ conv: Conv2d, activation: Activation, input shape: [Int], seed: UInt64,
    accumulate: Bool = false, file: StaticString = #filePath, line: UInt = #line
  ) {
    let bn = BatchNorm2d(channels: conv.outputChannels, eps: 1e-3, activation: activation)
    randomizeBatchNorm(bn, seed: seed, varianceLow: 0.05)
    // Inputs in [0, 4] after a ReLU6-like range, so ReLU6 clips at both ends somewhere.
    let x = randomTensor(shape, seed: seed + 10, low: -2, high: 4)
    let expected = bn.forward(conv.forward(x, mode: .inference), mode: .inference).clone()
    let folded = FoldedConv2d(conv, bn)
    let y = Tensor(shape: [0])
    var reference = expected.array
    if accumulate {
      let residual = randomTensor(expected.shape, seed: seed + 20)
      reference = zip(reference, residual.array).map { $0 + $1 }
      y.reshape(expected.shape)
      y.copy(from: residual)
    }
    folded.forward(x, into: y, accumulate: accumulate)
    XCTAssertEqual(y.shape, expected.shape, file: file, line: line)
    let scale = Double(reference.map { abs($0) }.max() ?? 1)
    let diff = assertClose(
      y.array, reference, rtol: 1e-5, atol: 1e-5 * scale, "\(conv.kind)",
      file: file, line: line)
    print("FoldedConv2d \(conv.kind) \(activation) \(shape): max diff \(diff) (scale \(scale))")
  }

  func testPointwiseWithReLU6MatchesConvThenBatchNorm() {
    // 300 rows: several GEMM blocks and a ragged last block.
    let conv = Conv2d(inputChannels: 24, outputChannels: 144, kernelSize: 1)
    check(conv, activation: .relu6, input: [3, 10, 10, 24], seed: 1)
  }

  func testPointwiseProjectionAccumulatesIntoResidual() {
    let conv = Conv2d(inputChannels: 96, outputChannels: 24, kernelSize: 1)
    check(conv, activation: .identity, input: [2, 9, 7, 96], seed: 2, accumulate: true)
  }

  func testStrideTwoSamePaddedStemWithBias() {
    // im2col in blocks (stem of EfficientNet-Lite: 3×3 stride 2, TF SAME, odd input size).
    let conv = Conv2d(
      inputChannels: 3, outputChannels: 32, kernelSize: 3, stride: 2,
      padding: .same, bias: true)
    check(conv, activation: .relu6, input: [2, 33, 30, 3], seed: 3)
  }

  func testDepthwiseKernelsAndStrides() {
    for (k, s) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
      let conv = Conv2d(
        inputChannels: 40, outputChannels: 40, kernelSize: k, stride: s,
        padding: .same, groups: 40)
      check(conv, activation: .relu6, input: [2, 13, 11, 40], seed: UInt64(10 + k * 2 + s))
    }
  }

  func testRefoldFollowsNewWeightsAndStatistics() {
    let conv = Conv2d(inputChannels: 8, outputChannels: 16, kernelSize: 1)
    let bn = BatchNorm2d(channels: 16, eps: 1e-3, activation: .relu6)
    randomizeBatchNorm(bn, seed: 40, varianceLow: 0.05)
    let folded = FoldedConv2d(conv, bn)
    let x = randomTensor([1, 4, 4, 8], seed: 41)
    let y = Tensor(shape: [0])
    randomizeBatchNorm(bn, seed: 50, varianceLow: 0.05)
    conv.resetParameters(seed: 51)
    folded.refold()
    folded.forward(x, into: y)
    let expected = bn.forward(conv.forward(x, mode: .inference), mode: .inference)
    assertClose(y.array, expected.array, rtol: 1e-5, atol: 1e-5)
  }
}
