// Conv2d: PyTorch nn.Conv2d on channels-last activations, with TensorFlow SAME padding.
//
//   Conv2d(inputChannels:outputChannels:kernelSize:stride:padding:groups:bias:)
//     groups == 1                 1×1/stride 1: one GEMM (N·H·W × Cin)·(Cin × Cout), rows
//                                 split over the workers (Gemm.swift);
//                                 otherwise im2col + one GEMM over the whole batch.
//     groups == inputChannels     depthwise (== outputChannels), SIMD kernel, no im2col.
//   Padding: .same (TF SAME), .valid, .symmetric(p), .explicit(top:bottom:left:right:)
//   conv.weight                   Parameter stored (KH, KW, Cin, Cout) or (KH, KW, C) for
//                                 depthwise; PyTorch name "weight", PyTorch shape OIHW.
//   conv.loadWeight(oihw:)        copy a PyTorch (Cout, Cin/groups, KH, KW) tensor in (permutes).
//   conv.computesInputGradient    false for the stem: backward skips dL/dx and returns zeros.

import LinearAlgebra
import Randomness

/// How a convolution pads its input.
public enum Padding: Sendable, Equatable {
  /// TensorFlow SAME: output = ceil(input / stride); pad_total = max((out−1)·s + k − i, 0),
  /// top/left = pad_total / 2, the rest bottom/right (EfficientNet-Lite's convention).
  case same
  /// No padding.
  case valid
  /// Explicit padding on each side (PyTorch's `padding=` is top = bottom, left = right).
  case explicit(top: Int, bottom: Int, left: Int, right: Int)

  /// PyTorch's `padding=p`: p on every side.
  public static func symmetric(_ p: Int) -> Padding {
    .explicit(top: p, bottom: p, left: p, right: p)
  }

  /// (before, after) padding along one axis of size `size`.
  func amounts(size: Int, kernel: Int, stride: Int, vertical: Bool) -> (Int, Int) {
    switch self {
    case .same:
      let out = (size + stride - 1) / stride
      let total = Swift.max((out - 1) * stride + kernel - size, 0)
      return (total / 2, total - total / 2)
    case .valid:
      return (0, 0)
    case .explicit(let top, let bottom, let left, let right):
      return vertical ? (top, bottom) : (left, right)
    }
  }
}

/// 2-D convolution (PyTorch `nn.Conv2d`) over (N, H, W, C) activations.
public final class Conv2d: Layer {
  public let inputChannels: Int
  public let outputChannels: Int
  public let kernelSize: Int
  public let stride: Int
  public let padding: Padding
  public let groups: Int
  /// The kernel: (KH, KW, Cin, Cout), or (KH, KW, C) when depthwise. PyTorch name "weight".
  public let weight: Parameter
  /// Optional bias (Cout). PyTorch name "bias".
  public let bias: Parameter?
  /// When false, `backward` does not compute dL/dx (e.g. the stem) and returns zeros.
  public var computesInputGradient = true

  /// Whether this is a depthwise convolution (groups == channels).
  public var isDepthwise: Bool { groups != 1 }

  private let output = Tensor(shape: [0])
  private let inputGradient = Tensor(shape: [0])
  private let col = Tensor(shape: [0])
  private let scratch = Tensor(shape: [0])
  private var input: Tensor?
  private var geometry: ConvGeometry?
  private var zeroGradientShape: [Int] = []

  /// Creates a convolution. `groups` must be 1 or equal `inputChannels` and `outputChannels`.
  public init(
    inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
    padding: Padding = .valid, groups: Int = 1, bias: Bool = false
  ) {
    precondition(
      inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0,
      "Conv2d needs positive channels, kernel size and stride.")
    precondition(
      groups == 1 || (groups == inputChannels && groups == outputChannels),
      "Conv2d supports groups == 1 or depthwise (groups == inputChannels == outputChannels), "
        + "got groups \(groups) for \(inputChannels) → \(outputChannels) channels.")
    self.inputChannels = inputChannels
    self.outputChannels = outputChannels
    self.kernelSize = kernelSize
    self.stride = stride
    self.padding = padding
    self.groups = groups
    if groups == 1 {
      weight = Parameter(
        Tensor(shape: [kernelSize, kernelSize, inputChannels, outputChannels]),
        layout: .convolution)
    } else {
      weight = Parameter(
        Tensor(shape: [kernelSize, kernelSize, inputChannels]), layout: .depthwise)
    }
    self.bias = bias ? Parameter(Tensor(shape: [outputChannels])) : nil
    var g = InitialSeeds.next()
    resetParameters(using: &g)
  }

  public var parameters: [(name: String, parameter: Parameter)] {
    var list = [(name: "weight", parameter: weight)]
    if let b = bias { list.append((name: "bias", parameter: b)) }
    return list
  }

  public var kind: String {
    if isDepthwise { return "DWConv \(kernelSize)x\(kernelSize) s\(stride)" }
    return kernelSize == 1 && stride == 1
      ? "Conv2d 1x1" : "Conv2d \(kernelSize)x\(kernelSize) s\(stride)"
  }

  /// PyTorch's default: U(±1/√fan_in) for weight and bias, fan_in = Cin/groups · k².
  public func resetParameters(using generator: inout SeededGenerator) {
    let fanIn = (inputChannels / groups) * kernelSize * kernelSize
    let bound = 1 / Float(fanIn).squareRoot()
    fillUniform(weight.value, bound: bound, using: &generator)
    if let b = bias { fillUniform(b.value, bound: bound, using: &generator) }
  }

  /// Copies a PyTorch weight of shape (Cout, Cin/groups, KH, KW) in, permuting it once.
  public func loadWeight(oihw: Tensor) throws {
    try weight.load(pytorch: oihw, key: "weight")
  }

  func geometry(for shape: [Int]) -> ConvGeometry {
    precondition(
      shape.count == 4 && shape[3] == inputChannels,
      "Conv2d(\(inputChannels) → \(outputChannels)) needs an (N, H, W, \(inputChannels)) input, "
        + "got \(shape).")
    let (h, w) = (shape[1], shape[2])
    let (top, bottom) = padding.amounts(size: h, kernel: kernelSize, stride: stride, vertical: true)
    let (left, right) = padding.amounts(
      size: w, kernel: kernelSize, stride: stride, vertical: false)
    let p = (h + top + bottom - kernelSize) / stride + 1
    let q = (w + left + right - kernelSize) / stride + 1
    precondition(
      p > 0 && q > 0,
      "Conv2d input \(shape) is smaller than its \(kernelSize)×\(kernelSize) kernel.")
    return ConvGeometry(
      n: shape[0], h: h, w: w, c: inputChannels, kh: kernelSize, kw: kernelSize, stride: stride,
      padTop: top, padLeft: left, p: p, q: q)
  }

  // x: (N, H, W, Cin) -> y: (N, P, Q, Cout)   PyTorch: F.conv2d on channels_last
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    let g = geometry(for: x.shape)
    output.reshape([g.n, g.p, g.q, outputChannels])
    if isDepthwise {
      depthwiseForward(x.data, weight.value.data, bias?.value.data, output.data, g)
    } else {
      let rows = g.outputRows
      let k = g.kh * g.kw * g.c
      var a = UnsafePointer(x.data)
      if !g.isPointwise {
        col.reshape([rows, k])
        im2col(x.data, col.data, g)
        a = UnsafePointer(col.data)
      }
      gemm(
        .none, m: rows, n: outputChannels, k: k, a: a, lda: k, b: weight.value.data,
        ldb: outputChannels, c: output.data, ldc: outputChannels)
      if let b = bias { addRowVector(output.data, rows: rows, cols: outputChannels, b.value.data) }
    }
    input = mode == .training ? x : nil
    geometry = g
    return output
  }

  // dy: (N, P, Q, Cout) -> dx: (N, H, W, Cin); weight.grad += dL/dW, bias.grad += Σ dy
  public func backward(_ dy: Tensor) -> Tensor {
    guard let x = input, let g = geometry else {
      preconditionFailure("Conv2d.backward needs a forward pass in .training mode first.")
    }
    precondition(
      dy.shape == [g.n, g.p, g.q, outputChannels],
      "Conv2d.backward got dy \(dy.shape), expected \([g.n, g.p, g.q, outputChannels]).")
    let rows = g.outputRows
    if let b = bias, !b.frozen {
      addColumnSums(dy.data, rows: rows, cols: outputChannels, into: b.grad.data, scratch: scratch)
    }
    inputGradient.reshape(x.shape)
    if isDepthwise {
      if !weight.frozen {
        scratch.reshape([Swift.min(reductionSlices, g.n * g.p), g.kh * g.kw * g.c])
        depthwiseBackwardWeight(x.data, dy.data, weight.grad.data, scratch.data, g)
      }
      if computesInputGradient {
        depthwiseBackwardInput(dy.data, weight.value.data, inputGradient.data, g)
      }
    } else {
      let k = g.kh * g.kw * g.c
      let a = g.isPointwise ? UnsafePointer(x.data) : UnsafePointer(col.data)
      if !weight.frozen {
        // dW (K × Cout) += Aᵀ (K × M) · dy (M × Cout)
        gemmReduceRows(
          rows: rows, k: k, n: outputChannels, a: a, lda: k, b: dy.data, ldb: outputChannels,
          c: weight.grad.data, ldc: outputChannels, scratch: scratch)
      }
      if computesInputGradient {
        // dA (M × K) = dy (M × Cout) · Wᵀ (Cout × K)
        let target = g.isPointwise ? inputGradient : col
        gemm(
          .transpose, m: rows, n: k, k: outputChannels, a: dy.data, lda: outputChannels,
          b: weight.value.data, ldb: outputChannels, c: target.data, ldc: k)
        if !g.isPointwise { col2im(col.data, inputGradient.data, g) }
      }
    }
    if !computesInputGradient && zeroGradientShape != x.shape {
      inputGradient.zero()
      zeroGradientShape = x.shape
    } else if computesInputGradient {
      zeroGradientShape = []
    }
    return inputGradient
  }
}

/// y[r, c] += v[c] for every row r.
func addRowVector(_ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ v: UnsafePointer<Float>)
{
  let slices = Parallel.slices(items: rows, work: rows * cols)
  Parallel.forEach(slices) { s in
    for r in Parallel.range(s, of: slices, total: rows) { addInPlace(y + r * cols, v, cols) }
  }
}

extension Conv2d: CostedLayer {
  func lastMultiplyAccumulates(backward: Bool) -> Int {
    guard let g = geometry else { return 0 }
    let forward = g.outputRows * outputChannels * g.kh * g.kw * (isDepthwise ? 1 : g.c)
    if !backward { return forward }
    return forward * ((weight.frozen ? 0 : 1) + (computesInputGradient ? 1 : 0))
  }
}
