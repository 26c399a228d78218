// Activations, dropout and pooling.
//
//   ReLU()                       PyTorch nn.ReLU.
//   ReLU6()                      PyTorch nn.ReLU6 (hardtanh 0..6; gradient 0 at both ends).
//   Dropout(probability:seed:)   PyTorch nn.Dropout: inverted scaling 1/(1−p) in training,
//                                identity in inference; mask from a seeded generator.
//   GlobalAveragePool()          (N, H, W, C) -> (N, C): AdaptiveAvgPool2d(1) + flatten.
//
// Prefer BatchNorm2d(activation: .relu6) over BatchNorm2d + ReLU6: one pass, one buffer.

import Randomness

/// An elementwise activation layer (shared by `ReLU` and `ReLU6`).
public class PointwiseActivation: Layer {
  let activation: Activation
  private let output = Tensor(shape: [0])
  private let inputGradient = Tensor(shape: [0])
  private var input: Tensor?

  init(_ activation: Activation) { self.activation = activation }

  public var parameters: [(name: String, parameter: Parameter)] { [] }

  public var kind: String { activation == .relu ? "ReLU" : "ReLU6" }

  // x: (…) -> y: (…)   PyTorch: F.relu / F.relu6
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    output.reshape(x.shape)
    let (xp, yp, n, act) = (UnsafePointer(x.data), output.data, x.count, activation)
    let slices = Parallel.slices(items: n / 8 + 1, work: n)
    Parallel.forEach(slices) { s in
      withActivation(act) { act in
        for i in Parallel.range(s, of: slices, total: n) { yp[i] = activate(xp[i], act) }
      }
    }
    input = mode == .training ? x : nil
    return output
  }

  // dy: (…) -> dx: (…)
  public func backward(_ dy: Tensor) -> Tensor {
    guard let x = input else {
      preconditionFailure("\(kind).backward needs a forward pass in .training mode first.")
    }
    precondition(dy.shape == x.shape, "\(kind).backward got dy \(dy.shape), expected \(x.shape).")
    inputGradient.reshape(x.shape)
    let (xp, dp, gp, n, act) = (
      UnsafePointer(x.data), UnsafePointer(dy.data), inputGradient.data, x.count, activation
    )
    let slices = Parallel.slices(items: n / 8 + 1, work: n)
    Parallel.forEach(slices) { s in
      withActivation(act) { act in
        for i in Parallel.range(s, of: slices, total: n) { gp[i] = gate(dp[i], xp[i], act) }
      }
    }
    return inputGradient
  }
}

/// max(x, 0) (PyTorch `nn.ReLU`).
public final class ReLU: PointwiseActivation {
  /// Creates a ReLU.
  public init() { super.init(.relu) }
}

/// min(max(x, 0), 6) (PyTorch `nn.ReLU6`).
public final class ReLU6: PointwiseActivation {
  /// Creates a ReLU6.
  public init() { super.init(.relu6) }
}

/// Inverted dropout (PyTorch `nn.Dropout`), deterministic given its seed.
public final class Dropout: Layer {
  /// Probability of zeroing an element in training.
  public let probability: Float
  private var generator: SeededGenerator
  private let output = Tensor(shape: [0])
  private let mask = Tensor(shape: [0])
  private let inputGradient = Tensor(shape: [0])
  private var trained = false

  /// Creates dropout with drop probability `probability` in [0, 1).
  public init(probability: Float, seed: UInt64 = 0) {
    precondition(
      probability >= 0 && probability < 1,
      "Dropout probability must be in [0, 1), got \(probability).")
    self.probability = probability
    generator = SeededGenerator(seed: seed)
  }

  /// Creates dropout drawing its masks from `generator` as it is.
  public init(probability: Float, generator: SeededGenerator) {
    precondition(
      probability >= 0 && probability < 1,
      "Dropout probability must be in [0, 1), got \(probability).")
    self.probability = probability
    self.generator = generator
  }

  public var parameters: [(name: String, parameter: Parameter)] { [] }

  /// Restarts the mask sequence from `seed`.
  public func reseed(_ seed: UInt64) { generator = SeededGenerator(seed: seed) }

  // x: (…) -> y: (…)   PyTorch: F.dropout(x, p, training)
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    trained = mode == .training
    if mode == .inference || probability == 0 { return x }
    output.reshape(x.shape)
    mask.reshape(x.shape)
    // An element is kept when its uniform draw is below 1 − p, and scaled by 1/(1 − p).
    let keep = 1 - probability
    let scale = 1 / keep
    for i in 0..<x.count {
      let m: Float = generator.unitFloat() < keep ? scale : 0
      mask.data[i] = m
      output.data[i] = x.data[i] * m
    }
    return output
  }

  // dy: (…) -> dx = dy · mask
  public func backward(_ dy: Tensor) -> Tensor {
    precondition(trained, "Dropout.backward needs a forward pass in .training mode first.")
    if probability == 0 { return dy }
    precondition(
      dy.count == mask.count, "Dropout.backward got dy \(dy.shape), expected \(mask.shape).")
    inputGradient.reshape(dy.shape)
    for i in 0..<dy.count { inputGradient.data[i] = dy.data[i] * mask.data[i] }
    return inputGradient
  }
}

/// Mean over the spatial axes: (N, H, W, C) -> (N, C) (PyTorch `AdaptiveAvgPool2d(1)` + flatten).
public final class GlobalAveragePool: Layer {
  private let output = Tensor(shape: [0])
  private let inputGradient = Tensor(shape: [0])
  private var inputShape: [Int] = []

  /// Creates the pooling layer.
  public init() {}

  public var parameters: [(name: String, parameter: Parameter)] { [] }

  // x: (N, H, W, C) -> y: (N, C)
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    precondition(
      x.shape.count == 4, "GlobalAveragePool needs an (N, H, W, C) input, got \(x.shape).")
    let (n, hw, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
    output.reshape([n, c])
    let (xp, yp) = (UnsafePointer(x.data), output.data)
    let inv = 1 / Float(hw)
    let parallel = Parallel.slices(items: n, work: n * hw * c) > 1
    Parallel.forEach(parallel ? n : 1) { b in
      for i in (parallel ? b..<(b + 1) : 0..<n) {
        let out = yp + i * c
        out.update(repeating: 0, count: c)
        for j in 0..<hw { addInPlace(out, xp + (i * hw + j) * c, c) }
        for k in 0..<c { out[k] *= inv }
      }
    }
    inputShape = x.shape
    return output
  }

  // dy: (N, C) -> dx: (N, H, W, C) = dy / (H·W) broadcast
  public func backward(_ dy: Tensor) -> Tensor {
    precondition(inputShape.count == 4, "GlobalAveragePool.backward needs a forward pass first.")
    let (n, hw, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
    precondition(
      dy.shape == [n, c], "GlobalAveragePool.backward got dy \(dy.shape), expected \([n, c]).")
    inputGradient.reshape(inputShape)
    let (dp, gp) = (UnsafePointer(dy.data), inputGradient.data)
    let inv = 1 / Float(hw)
    let parallel = Parallel.slices(items: n, work: n * hw * c) > 1
    Parallel.forEach(parallel ? n : 1) { b in
      for i in (parallel ? b..<(b + 1) : 0..<n) {
        for j in 0..<hw {
          let out = gp + (i * hw + j) * c
          for k in 0..<c { out[k] = dp[i * c + k] * inv }
        }
      }
    }
    return inputGradient
  }
}
