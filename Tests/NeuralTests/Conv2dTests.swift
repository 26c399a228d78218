// Conv2d: forward against a float64 direct convolution on PyTorch-layout (OIHW) weights,
// TensorFlow SAME padding amounts, and finite-difference gradient checks for every path
// (1×1 GEMM, k×k im2col, depthwise 3×3/5×5 at stride 1 and 2).

import TestSupport
import XCTest

@testable import Neural

/// Direct NHWC convolution in Double with OIHW weights (groups 1 or depthwise).
func referenceConv(
  x: Tensor, oihw: Tensor, groups: Int, stride: Int, padTop: Int, padLeft: Int, p: Int, q: Int
) -> [Double] {
  let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
  let (co, ci, kh, kw) = (oihw.shape[0], oihw.shape[1], oihw.shape[2], oihw.shape[3])
  var y = [Double](repeating: 0, count: n * p * q * co)
  for b in 0..<n {
    for i in 0..<p {
      for j in 0..<q {
        for o in 0..<co {
          var s = 0.0
          for a in 0..<kh {
            for d in 0..<kw {
              let ih = i * stride - padTop + a
              let iw = j * stride - padLeft + d
              if ih < 0 || ih >= h || iw < 0 || iw >= w { continue }
              for k in 0..<ci {
                let channel = groups == 1 ? k : o
                s +=
                  Double(x[((b * h + ih) * w + iw) * c + channel])
                  * Double(oihw[((o * ci + k) * kh + a) * kw + d])
              }
            }
          }
          y[((b * p + i) * q + j) * co + o] = s
        }
      }
    }
  }
  return y
}

final class Conv2dTests: XCTestCase {
  func testSamePaddingMatchesTensorFlow() {
    // At 224 input, stride 2: k3 pads (0, 1), k5 pads (1, 2) (DESIGN.md).
    XCTAssert(Padding.same.amounts(size: 224, kernel: 3, stride: 2, vertical: true) == (0, 1))
    XCTAssert(Padding.same.amounts(size: 224, kernel: 5, stride: 2, vertical: true) == (1, 2))
    XCTAssert(Padding.same.amounts(size: 7, kernel: 3, stride: 1, vertical: true) == (1, 1))
    XCTAssert(Padding.same.amounts(size: 7, kernel: 5, stride: 2, vertical: false) == (2, 2))
    let conv = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: .same)
    XCTAssertEqual(
      conv.forward(Tensor(shape: [1, 9, 8, 3]), mode: .inference).shape, [1, 5, 4, 4])
  }

  func forwardCase(
    cin: Int, cout: Int, k: Int, stride: Int, padding: Padding, groups: Int, h: Int, w: Int,
    bias: Bool = false
  ) {
    let conv = Conv2d(
      inputChannels: cin, outputChannels: cout, kernelSize: k, stride: stride, padding: padding,
      groups: groups, bias: bias)
    let oihw = randomTensor([cout, cin / groups, k, k], seed: 11)
    XCTAssertNoThrow(try conv.loadWeight(oihw: oihw))
    if let b = conv.bias { b.value.copy(from: randomTensor([cout], seed: 12)) }
    XCTAssertEqual(conv.weight.pytorchTensor().array, oihw.array, "export undoes the import")
    let x = randomTensor([2, h, w, cin], seed: 13)
    let y = conv.forward(x, mode: .inference)
    let g = conv.geometry(for: x.shape)
    var expected = referenceConv(
      x: x, oihw: oihw, groups: groups, stride: stride, padTop: g.padTop, padLeft: g.padLeft,
      p: g.p, q: g.q)
    if let b = conv.bias {
      for i in 0..<expected.count { expected[i] += Double(b.value[i % cout]) }
    }
    XCTAssertEqual(y.shape, [2, g.p, g.q, cout])
    let diff = assertClose(y.array, expected, rtol: 1e-4, atol: 1e-5)
    print("conv k\(k) s\(stride) groups \(groups): maxdiff \(diff)")
  }

  func testForwardMatchesDirectConvolution() {
    forwardCase(
      cin: 5, cout: 7, k: 1, stride: 1, padding: .valid, groups: 1, h: 4, w: 3, bias: true)
    forwardCase(cin: 3, cout: 8, k: 3, stride: 2, padding: .same, groups: 1, h: 9, w: 8)
    forwardCase(cin: 4, cout: 6, k: 3, stride: 1, padding: .symmetric(1), groups: 1, h: 5, w: 6)
    forwardCase(cin: 4, cout: 5, k: 1, stride: 2, padding: .valid, groups: 1, h: 5, w: 5)
    for k in [3, 5] {
      for s in [1, 2] {
        // 19 channels: a 16-wide block and a scalar tail of 3; 24 channels: 16 + 8.
        forwardCase(cin: 19, cout: 19, k: k, stride: s, padding: .same, groups: 19, h: 9, w: 7)
        forwardCase(
          cin: 24, cout: 24, k: k, stride: s, padding: .same, groups: 24, h: 8, w: 8, bias: true)
      }
    }
  }

  func testGradientsPointwise() {
    let conv = Conv2d(inputChannels: 6, outputChannels: 5, kernelSize: 1, bias: true)
    checkGradients(conv, input: randomTensor([2, 3, 4, 6], seed: 1))
  }

  func testGradientsIm2col() {
    let conv = Conv2d(
      inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: .same, bias: true)
    checkGradients(conv, input: randomTensor([2, 7, 6, 3], seed: 2))
    let conv2 = Conv2d(
      inputChannels: 2, outputChannels: 3, kernelSize: 3, stride: 1, padding: .symmetric(1))
    checkGradients(conv2, input: randomTensor([1, 5, 5, 2], seed: 3))
  }

  func testGradientsDepthwise() {
    for k in [3, 5] {
      for s in [1, 2] {
        let conv = Conv2d(
          inputChannels: 19, outputChannels: 19, kernelSize: k, stride: s, padding: .same,
          groups: 19, bias: k == 3)
        checkGradients(
          conv, input: randomTensor([2, 7, 6, 19], seed: UInt64(k * 10 + s)), samples: 40)
        let wide = Conv2d(
          inputChannels: 24, outputChannels: 24, kernelSize: k, stride: s, padding: .same,
          groups: 24)
        checkGradients(
          wide, input: randomTensor([1, 6, 7, 24], seed: UInt64(k * 10 + s + 5)), samples: 40)
      }
    }
  }

  func testFrozenWeightGetsNoGradientAndStemSkipsInputGradient() {
    let conv = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: .same)
    conv.weight.frozen = true
    conv.computesInputGradient = false
    let x = randomTensor([1, 6, 6, 3], seed: 5)
    let y = conv.forward(x, mode: .training)
    let dx = conv.backward(randomTensor(y.shape, seed: 6))
    XCTAssertEqual(conv.weight.grad.array, [Float](repeating: 0, count: conv.weight.grad.count))
    XCTAssertEqual(dx.array, [Float](repeating: 0, count: x.count))
  }

  func testLoadWeightRejectsWrongShape() {
    let conv = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3)
    XCTAssertThrowsError(try conv.loadWeight(oihw: Tensor(shape: [4, 3, 5, 5]))) { error in
      XCTAssertEqual(
        error as? NeuralError,
        .shapeMismatch(key: "weight", expected: [4, 3, 3, 3], actual: [4, 3, 5, 5]))
    }
  }
}
