// Containers: Sequential and Residual.
//
//   Sequential([("name", layer), …]) / Sequential([layer, …]) (named "0", "1", …)
//       parameters and buffers are prefixed "name." like PyTorch's nn.Sequential / ModuleDict;
//       an empty name adds no prefix. When `Profiler.enabled`, times every child.
//   Residual(body, dropPathProbability:seed:)
//       y = x + body(x) (EfficientNet's identity skip); in training, an optional per-sample
//       drop path (lukemelas `drop_connect`: keep with 1−p, scale by 1/(1−p)). Names are the
//       body's, unprefixed.

import Randomness

/// Layers applied one after another (PyTorch `nn.Sequential`).
public final class Sequential: Layer {
  /// The children in order, with the names used to prefix their parameters.
  public private(set) var layers: [(name: String, layer: Layer)]

  /// Creates a sequence of named layers.
  public init(_ layers: [(String, Layer)]) {
    self.layers = layers.map { (name: $0.0, layer: $0.1) }
  }

  /// Creates a sequence named "0", "1", … like `nn.Sequential(*layers)`.
  public init(_ layers: [Layer]) {
    self.layers = layers.enumerated().map { (name: String($0.offset), layer: $0.element) }
  }

  /// Appends a child.
  public func append(_ name: String, _ layer: Layer) {
    layers.append((name: name, layer: layer))
  }

  /// The child called `name`, if any.
  public subscript(name: String) -> Layer? {
    layers.first { $0.name == name }?.layer
  }

  public var kind: String { "Sequential" }

  public var parameters: [(name: String, parameter: Parameter)] {
    layers.flatMap { child in
      child.layer.parameters.map { (name: prefixed(child.name, $0.name), parameter: $0.parameter) }
    }
  }

  public var buffers: [(name: String, tensor: Tensor)] {
    layers.flatMap { child in
      child.layer.buffers.map { (name: prefixed(child.name, $0.name), tensor: $0.tensor) }
    }
  }

  public func resetParameters(using generator: inout SeededGenerator) {
    for child in layers { child.layer.resetParameters(using: &generator) }
  }

  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    var h = x
    if Profiler.enabled {
      for (name, layer) in layers {
        let input = h
        h = Profiler.measure(name, layer, backward: false) { layer.forward(input, mode: mode) }
      }
    } else {
      for (_, layer) in layers { h = layer.forward(h, mode: mode) }
    }
    return h
  }

  public func backward(_ dy: Tensor) -> Tensor {
    var g = dy
    if Profiler.enabled {
      for (name, layer) in layers.reversed() {
        let upstream = g
        g = Profiler.measure(name, layer, backward: true) { layer.backward(upstream) }
      }
    } else {
      for (_, layer) in layers.reversed() { g = layer.backward(g) }
    }
    return g
  }
}

/// "prefix.name", or `name` when the prefix is empty.
@inline(__always)
func prefixed(_ prefix: String, _ name: String) -> String {
  prefix.isEmpty ? name : prefix + "." + name
}

/// y = x + body(x), with optional drop path on the body in training.
public final class Residual: Layer {
  /// The residual branch; its output shape must equal its input shape.
  public let body: Layer
  /// Per-sample probability of dropping the body in training (0 disables drop path).
  public let dropPathProbability: Float
  private var generator: SeededGenerator
  private var keep: [Float] = []
  private let output = Tensor(shape: [0])
  private let inputGradient = Tensor(shape: [0])
  private let bodyGradient = Tensor(shape: [0])
  private var trained = false

  /// Wraps `body` in an identity skip connection.
  public init(_ body: Layer, dropPathProbability: Float = 0, seed: UInt64 = 0) {
    precondition(
      dropPathProbability >= 0 && dropPathProbability < 1,
      "Residual drop path probability must be in [0, 1), got \(dropPathProbability).")
    self.body = body
    self.dropPathProbability = dropPathProbability
    generator = SeededGenerator(seed: seed)
  }

  /// Restarts the drop-path sequence from `seed`.
  public func reseed(_ seed: UInt64) { generator = SeededGenerator(seed: seed) }

  public var kind: String { "Residual" }
  public var parameters: [(name: String, parameter: Parameter)] { body.parameters }
  public var buffers: [(name: String, tensor: Tensor)] { body.buffers }

  public func resetParameters(using generator: inout SeededGenerator) {
    body.resetParameters(using: &generator)
  }

  // x: (N, …) -> y = x + keep_n · body(x)
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    let b =
      Profiler.enabled
      ? Profiler.measure("", body, backward: false) { body.forward(x, mode: mode) }
      : body.forward(x, mode: mode)
    precondition(
      b.shape == x.shape, "Residual body changed the shape from \(x.shape) to \(b.shape).")
    output.reshape(x.shape)
    trained = mode == .training
    let n = x.shape.first ?? 1
    let per = x.count / Swift.max(n, 1)
    keep = Array(repeating: 1, count: n)
    if trained && dropPathProbability > 0 {
      for i in 0..<n {
        keep[i] = generator.unitFloat() < dropPathProbability ? 0 : 1 / (1 - dropPathProbability)
      }
    }
    let (xp, bp, yp) = (UnsafePointer(x.data), UnsafePointer(b.data), output.data)
    let scales = keep
    let slices = Parallel.slices(items: n, work: x.count)
    Parallel.forEach(slices) { s in
      for i in Parallel.range(s, of: slices, total: n) {
        let k = scales[i]
        for j in (i * per)..<((i + 1) * per) { yp[j] = xp[j] + bp[j] * k }
      }
    }
    return output
  }

  // dy -> dx = dy + body.backward(keep · dy)
  public func backward(_ dy: Tensor) -> Tensor {
    precondition(trained, "Residual.backward needs a forward pass in .training mode first.")
    var upstream = dy
    let n = keep.count
    let per = dy.count / Swift.max(n, 1)
    if keep.contains(where: { $0 != 1 }) {
      bodyGradient.reshape(dy.shape)
      for i in 0..<n {
        for j in (i * per)..<((i + 1) * per) { bodyGradient.data[j] = dy.data[j] * keep[i] }
      }
      upstream = bodyGradient
    }
    let g =
      Profiler.enabled
      ? Profiler.measure("", body, backward: true) { body.backward(upstream) }
      : body.backward(upstream)
    inputGradient.reshape(dy.shape)
    let (dp, gp, out) = (UnsafePointer(dy.data), UnsafePointer(g.data), inputGradient.data)
    let total = dy.count
    let slices = Parallel.slices(items: total / 8 + 1, work: total)
    Parallel.forEach(slices) { s in
      for j in Parallel.range(s, of: slices, total: total) { out[j] = dp[j] + gp[j] }
    }
    return inputGradient
  }
}
