// Tensor, Parameter, Mode and the Layer protocol shared by the engine and Backbones.
//
//   Tensor(shape:) / Tensor(shape:values:)   Float32, 64-byte aligned, reference type;
//       reshape(_:) reuses capacity; data, array, buffer, zero(), fill(_:), copy(from:), clone().
//   Parameter(value, layout:)                value + grad (+= by backward), frozen, PyTorch layout.
//   Mode                                     .training / .inference.
//   Layer                                    forward(_:mode:), backward(_:), parameters, buffers,
//       kind (profiler label), resetParameters(using:), zeroGrad(), resetParameters(seed:).
//       Layers own their output and input-gradient buffers: a returned tensor is valid until the
//       layer's next forward/backward, and backward needs the forward's input left unchanged.
//   FoldedConv2d(conv, norm)                 inference only: Conv2d + BatchNorm2d (+ ReLU6) folded
//       into one convolution, refold() after weights change, forward(x, into: y, accumulate:)
//       writes a caller-owned buffer (models keep a small activation arena, not one per layer).
//   Gemm.measurePeak()                       this machine's SGEMM GFLOP/s (bench's reference).
//   Profiler.record(path:kind:multiplyAccumulates:)   times code outside Sequential (folded paths).

import LinearAlgebra
import Randomness

#if canImport(Glibc)
  import Glibc
#endif

/// A dense Float32 tensor with 64-byte aligned storage.
///
/// Activations are channels-last: a 4-D activation has shape (N, H, W, C). Convolution weights
/// are stored as imported from PyTorch and permuted once at load time by the layer that owns
/// them. `Tensor` is a reference type on purpose: activation, gradient and scratch buffers are
/// allocated once per (model, batch shape) and reused every step (ARCHITECTURE.md, "Numerical conventions").
public final class Tensor {
  /// The dimensions, outermost first.
  public private(set) var shape: [Int]
  /// Number of elements (product of `shape`).
  public private(set) var count: Int
  /// Elements allocated (≥ `count`); `reshape` within capacity does not reallocate.
  public private(set) var capacity: Int
  /// The storage, 64-byte aligned.
  public private(set) var data: UnsafeMutablePointer<Float>

  /// Creates a zero-filled tensor.
  public init(shape: [Int]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative dimension.")
    self.shape = shape
    self.count = shape.reduce(1, *)
    self.capacity = Swift.max(count, 1)
    self.data = Tensor.allocate(capacity)
    data.initialize(repeating: 0, count: capacity)
  }

  /// Creates a tensor holding `values` (row-major in `shape`).
  public convenience init(shape: [Int], values: [Float]) {
    self.init(shape: shape)
    precondition(
      values.count == count, "Tensor of shape \(shape) needs \(count) values, got \(values.count).")
    values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
  }

  deinit { free(data) }

  private static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
    var raw: UnsafeMutableRawPointer?
    let status = posix_memalign(&raw, 64, Swift.max(n, 1) * MemoryLayout<Float>.stride)
    precondition(
      status == 0 && raw != nil,
      "Tensor could not allocate \(n) floats (posix_memalign status \(status)).")
    return raw!.bindMemory(to: Float.self, capacity: Swift.max(n, 1))
  }

  /// Changes the shape; reallocates (zero-filled) only when the new size exceeds the capacity.
  /// Contents are unspecified after a reshape that changes `count`.
  public func reshape(_ newShape: [Int]) {
    let newCount = newShape.reduce(1, *)
    if newCount > capacity {
      free(data)
      capacity = newCount
      data = Tensor.allocate(capacity)
      data.initialize(repeating: 0, count: capacity)
    }
    shape = newShape
    count = newCount
  }

  /// The elements as an array (copies).
  public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

  /// The storage as a buffer of `count` elements.
  public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: data, count: count)
  }

  /// Sets every element to zero.
  public func zero() { data.update(repeating: 0, count: count) }

  /// Sets every element to `value`.
  public func fill(_ value: Float) { data.update(repeating: value, count: count) }

  /// Copies `other`'s elements (shapes must hold the same number of elements).
  public func copy(from other: Tensor) {
    precondition(
      other.count == count,
      "Tensor.copy needs equal element counts, got \(other.count) into \(count).")
    data.update(from: other.data, count: count)
  }

  /// A new tensor with the same shape and contents.
  public func clone() -> Tensor {
    let t = Tensor(shape: shape)
    t.copy(from: self)
    return t
  }

  /// Element access by flat index.
  public subscript(index: Int) -> Float {
    get { data[index] }
    set { data[index] = newValue }
  }
}

/// How a parameter's storage relates to PyTorch's layout of the same tensor.
///
/// Layers keep weights in the layout their kernels want; import and export (state dicts,
/// safetensors checkpoints) go through PyTorch's layout so checkpoints are interchangeable.
public enum PyTorchLayout: Sendable, Equatable {
  /// Stored exactly as PyTorch stores it (biases, BatchNorm affine, `Linear` (out, in)).
  case identity
  /// Stored (KH, KW, Cin, Cout) so a convolution is `col · W`; PyTorch stores (Cout, Cin, KH, KW).
  case convolution
  /// Stored (KH, KW, C) so channels are contiguous; PyTorch stores (C, 1, KH, KW).
  case depthwise
}

/// A trainable tensor with its gradient.
public final class Parameter {
  /// The current value.
  public let value: Tensor
  /// dL/d(value), accumulated (+=) by `backward`, cleared by `zeroGrad()`.
  public let grad: Tensor
  /// A frozen parameter is skipped by optimizers, and layers skip computing its gradient.
  public var frozen: Bool = false
  /// How `value` is laid out relative to PyTorch (see `Parameter+PyTorch.swift`).
  public let layout: PyTorchLayout

  /// Creates a parameter holding `value`, with a zero gradient.
  public init(_ value: Tensor, layout: PyTorchLayout = .identity) {
    self.value = value
    self.grad = Tensor(shape: value.shape)
    self.layout = layout
  }

  /// Clears the accumulated gradient.
  public func zeroGrad() { grad.zero() }
}

/// Whether a forward pass trains (keeps what backward needs, uses batch statistics) or not.
public enum Mode: Sendable {
  case training
  case inference
}

/// A differentiable layer: forward and backward side by side.
public protocol Layer: AnyObject {
  /// Computes the output; in `.training` keeps what `backward` needs.
  func forward(_ x: Tensor, mode: Mode) -> Tensor
  /// Takes dL/dy, accumulates (+=) into each parameter's gradient, returns dL/dx.
  func backward(_ dy: Tensor) -> Tensor
  /// Named exactly like the PyTorch state_dict ("blocks.3.bn1.weight").
  var parameters: [(name: String, parameter: Parameter)] { get }
  /// Non-trainable state such as BatchNorm running statistics.
  var buffers: [(name: String, tensor: Tensor)] { get }
  /// A short description for the profiler ("Conv2d 1x1", "BatchNorm2d"); containers say so.
  var kind: String { get }
  /// Re-initialises the parameters (PyTorch's default initialisation) from `generator`.
  func resetParameters(using generator: inout SeededGenerator)
}

extension Layer {
  public var buffers: [(name: String, tensor: Tensor)] { [] }
  public var kind: String { String(describing: type(of: self)) }
  public func resetParameters(using generator: inout SeededGenerator) {}

  /// Re-initialises every parameter deterministically from `seed`.
  public func resetParameters(seed: UInt64) {
    var generator = SeededGenerator(seed: seed)
    resetParameters(using: &generator)
  }

  /// Clears every parameter's gradient.
  public func zeroGrad() {
    for (_, p) in parameters { p.zeroGrad() }
  }
}
