// Linear: PyTorch nn.Linear, weight (out, in) exactly as PyTorch stores it.
//
//   Linear(inputFeatures:outputFeatures:bias:)   y = x·Wᵀ + b over the last axis.
//   parameters "weight" (out, in), "bias" (out).

import LinearAlgebra
import Randomness

/// Fully connected layer (PyTorch `nn.Linear`).
public final class Linear: Layer {
  public let inputFeatures: Int
  public let outputFeatures: Int
  /// (out, in), PyTorch "weight".
  public let weight: Parameter
  /// (out), PyTorch "bias".
  public let bias: Parameter?

  private let output = Tensor(shape: [0])
  private let inputGradient = Tensor(shape: [0])
  private let scratch = Tensor(shape: [0])
  private var input: Tensor?
  private var lastRows = 0

  /// Creates a linear layer with PyTorch's default initialisation.
  public init(inputFeatures: Int, outputFeatures: Int, bias: Bool = true) {
    precondition(inputFeatures > 0 && outputFeatures > 0, "Linear needs positive feature counts.")
    self.inputFeatures = inputFeatures
    self.outputFeatures = outputFeatures
    weight = Parameter(Tensor(shape: [outputFeatures, inputFeatures]))
    self.bias = bias ? Parameter(Tensor(shape: [outputFeatures])) : nil
    var g = InitialSeeds.next()
    resetParameters(using: &g)
  }

  /// Creates a linear layer initialised (PyTorch's default) from `generator`, which it
  /// advances: weight, then bias.
  public init(
    inputFeatures: Int, outputFeatures: Int, bias: Bool = true,
    initializingWith generator: inout SeededGenerator
  ) {
    precondition(inputFeatures > 0 && outputFeatures > 0, "Linear needs positive feature counts.")
    self.inputFeatures = inputFeatures
    self.outputFeatures = outputFeatures
    weight = Parameter(Tensor(shape: [outputFeatures, inputFeatures]))
    self.bias = bias ? Parameter(Tensor(shape: [outputFeatures])) : nil
    resetParameters(using: &generator)
  }

  public var parameters: [(name: String, parameter: Parameter)] {
    var list = [(name: "weight", parameter: weight)]
    if let b = bias { list.append((name: "bias", parameter: b)) }
    return list
  }

  /// PyTorch's default: U(±1/√in) for weight and bias.
  public func resetParameters(using generator: inout SeededGenerator) {
    let bound = 1 / Float(inputFeatures).squareRoot()
    fillUniform(weight.value, bound: bound, using: &generator)
    if let b = bias { fillUniform(b.value, bound: bound, using: &generator) }
  }

  /// Layers with at most this many outputs (a classifier head: a few classes, a small hidden
  /// layer) compute each output as one dot product added in input order, and accumulate their
  /// gradients row by row, instead of through BLAS: the numbers are the same on every CPU and
  /// thread count whatever BLAS's kernels do, and at these sizes the loops cost nothing.
  /// Wider layers (the 1,000-class ImageNet head) use GEMM.
  public static let sequentialMaximumOutputs = 64

  var isSequential: Bool { outputFeatures <= Self.sequentialMaximumOutputs }

  // x: (…, in) -> y: (…, out)   PyTorch: F.linear
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    precondition(
      x.shape.last == inputFeatures,
      "Linear(\(inputFeatures) → \(outputFeatures)) needs an input ending in \(inputFeatures), got \(x.shape)."
    )
    let rows = x.count / inputFeatures
    lastRows = rows
    output.reshape(Array(x.shape.dropLast()) + [outputFeatures])
    input = mode == .training ? x : nil
    if isSequential {
      let (inp, out, xd, wd, yd) = (
        inputFeatures, outputFeatures, x.data, weight.value.data, output.data
      )
      let bd = bias?.value.data
      for r in 0..<rows {
        let xr = xd + r * inp
        for o in 0..<out {
          let wr = wd + o * inp
          var s: Float = 0
          for i in 0..<inp { s += xr[i] * wr[i] }
          yd[r * out + o] = s + (bd?[o] ?? 0)
        }
      }
      return output
    }
    gemm(
      .transpose, m: rows, n: outputFeatures, k: inputFeatures, a: x.data, lda: inputFeatures,
      b: weight.value.data, ldb: inputFeatures, c: output.data, ldc: outputFeatures)
    if let b = bias { addRowVector(output.data, rows: rows, cols: outputFeatures, b.value.data) }
    return output
  }

  // dy: (…, out) -> dx: (…, in); W.grad += dyᵀ·x, b.grad += Σ dy
  public func backward(_ dy: Tensor) -> Tensor {
    guard let x = input else {
      preconditionFailure("Linear.backward needs a forward pass in .training mode first.")
    }
    let rows = x.count / inputFeatures
    precondition(
      dy.count == rows * outputFeatures, "Linear.backward got dy \(dy.shape) for input \(x.shape).")
    if isSequential { return sequentialBackward(dy, x, rows: rows) }
    if !weight.frozen {
      Gemm.configureThreads()
      BLAS.sgemm(
        .transpose, .none, m: outputFeatures, n: inputFeatures, k: rows, a: dy.data,
        lda: outputFeatures, b: x.data, ldb: inputFeatures, beta: 1, c: weight.grad.data,
        ldc: inputFeatures)
    }
    if let b = bias, !b.frozen {
      addColumnSums(dy.data, rows: rows, cols: outputFeatures, into: b.grad.data, scratch: scratch)
    }
    inputGradient.reshape(x.shape)
    gemm(
      .none, m: rows, n: inputFeatures, k: outputFeatures, a: dy.data, lda: outputFeatures,
      b: weight.value.data, ldb: inputFeatures, c: inputGradient.data, ldc: inputFeatures)
    return inputGradient
  }
}

extension Linear {
  // dW += dyᵀ·x and db += Σ dy row by row, dx = dy·W output by output (zero dy skipped).
  func sequentialBackward(_ dy: Tensor, _ x: Tensor, rows: Int) -> Tensor {
    let (inp, out, dyd, xd, wd) = (
      inputFeatures, outputFeatures, dy.data, x.data, weight.value.data
    )
    let trainsWeight = !weight.frozen
    let biasGradient = bias.flatMap { $0.frozen ? nil : $0.grad.data }
    if trainsWeight || biasGradient != nil {
      let gw = weight.grad.data
      for r in 0..<rows {
        for o in 0..<out {
          let d = dyd[r * out + o]
          if d == 0 { continue }
          biasGradient?[o] += d
          guard trainsWeight else { continue }
          let g = gw + o * inp
          for i in 0..<inp { g[i] += d * xd[r * inp + i] }
        }
      }
    }
    inputGradient.reshape(x.shape)
    let dx = inputGradient.data
    for i in 0..<(rows * inp) { dx[i] = 0 }
    for r in 0..<rows {
      for o in 0..<out {
        let d = dyd[r * out + o]
        if d == 0 { continue }
        let wr = wd + o * inp
        for i in 0..<inp { dx[r * inp + i] += d * wr[i] }
      }
    }
    return inputGradient
  }
}

extension Linear: CostedLayer {
  func lastMultiplyAccumulates(backward: Bool) -> Int {
    let forward = lastRows * inputFeatures * outputFeatures
    return backward ? forward * ((weight.frozen ? 0 : 1) + 1) : forward
  }
}
