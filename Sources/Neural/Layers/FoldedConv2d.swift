// FoldedConv2d: a Conv2d with the BatchNorm2d (and activation) after it folded in, for inference.
//
//   FoldedConv2d(conv, norm)        y = act(conv(x; W·s) + b·s + β − μ·s), s = γ/√(σ²+ε), the
//                                   same function as conv → norm(.inference) → act, one pass.
//   refold()                        recomputes the folded weights from the layers' current
//                                   parameters and running statistics (cheap: O(weights)).
//   forward(x, into: y, accumulate:) writes y (resized to the output shape), or adds into y
//                                   (the residual of an inverted-bottleneck block, in place).
//   outputShape(for:), multiplyAccumulates(for:)
//
// groups == 1 convolutions run as GEMMs over blocks of output rows: each worker takes a
// contiguous run of row blocks, (im2cols a block into its own scratch,) multiplies it with
// single-threaded OpenBLAS and applies bias + activation while the block is still in cache.
// So a 1×1 convolution is one pass over its output instead of three (GEMM, BN, activation),
// and a k×k convolution never materialises the whole batch's im2col matrix. Depthwise
// convolutions apply bias + activation per output pixel inside the SIMD kernel.

import Dispatch
import LinearAlgebra

/// A convolution with its following BatchNorm (in inference form) and activation folded in.
public final class FoldedConv2d {
  /// The convolution whose weights are folded.
  public let conv: Conv2d
  /// The BatchNorm folded into the convolution (nil: bias and activation only).
  public let norm: BatchNorm2d?
  /// The activation applied after the affine transform.
  public let activation: Activation
  let weight: Tensor
  let bias: Tensor
  private var scratch: [Tensor] = []

  /// Folds `norm` (its running statistics, as in `.inference`) and its activation into `conv`.
  /// `activation` overrides the norm's activation (default: the norm's, or identity).
  public init(_ conv: Conv2d, _ norm: BatchNorm2d?, activation: Activation? = nil) {
    precondition(
      norm == nil || norm!.channels == conv.outputChannels,
      "FoldedConv2d needs a BatchNorm2d over the convolution's \(conv.outputChannels) outputs, "
        + "got \(norm!.channels).")
    self.conv = conv
    self.norm = norm
    self.activation = activation ?? norm?.activation ?? .identity
    weight = Tensor(shape: conv.weight.value.shape)
    bias = Tensor(shape: [conv.outputChannels])
    refold()
  }

  /// Recomputes the folded weight and bias from the current parameters and running statistics.
  public func refold() {
    let cout = conv.outputChannels
    let w = conv.weight.value
    if weight.shape != w.shape { weight.reshape(w.shape) }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: cout) { scaleBuffer in
      let scale = scaleBuffer.baseAddress!
      if let bn = norm {
        // The exact float formulas of BatchNorm2d.forward(.inference).
        for i in 0..<cout {
          let rstd = 1 / (bn.runningVar[i] + bn.eps).squareRoot()
          scale[i] = bn.weight.value[i] * rstd
          let shift = bn.bias.value[i] - bn.runningMean[i] * scale[i]
          bias[i] = (conv.bias?.value[i] ?? 0) * scale[i] + shift
        }
      } else {
        for i in 0..<cout {
          scale[i] = 1
          bias[i] = conv.bias?.value[i] ?? 0
        }
      }
      // Both layouts, (KH, KW, Cin, Cout) and depthwise (KH, KW, C), end in the output channel.
      let rows = w.count / cout
      let (src, dst) = (UnsafePointer(w.data), weight.data)
      for r in 0..<rows {
        let s = src + r * cout
        let d = dst + r * cout
        for i in 0..<cout { d[i] = s[i] * scale[i] }
      }
    }
  }

  /// The profiler's label: the convolution's kind, "+BN" when a norm is folded, the activation.
  public var kind: String {
    var k = conv.kind + (norm == nil ? "" : "+BN")
    switch activation {
    case .identity: break
    case .relu: k += "+ReLU"
    case .relu6: k += "+ReLU6"
    }
    return k + " (folded)"
  }

  /// The output shape for an (N, H, W, Cin) input.
  public func outputShape(for inputShape: [Int]) -> [Int] {
    let g = conv.geometry(for: inputShape)
    return [g.n, g.p, g.q, conv.outputChannels]
  }

  /// Multiply-accumulates of one forward pass on an input of `inputShape`.
  public func multiplyAccumulates(for inputShape: [Int]) -> Int {
    let g = conv.geometry(for: inputShape)
    let perOutput = g.kh * g.kw * (conv.isDepthwise ? 1 : g.c)
    return g.outputRows * conv.outputChannels * perOutput
  }

  // x: (N, H, W, Cin) -> y: (N, P, Q, Cout) = act(conv(x)·s + shift)   PyTorch (eval):
  // F.relu6(bn(conv(x))) on channels_last; with `accumulate`, y += conv(x)·s + shift (y must
  // already have the output shape, and `activation` must be identity).
  /// Computes the folded convolution of `x` into `y` (resized), or adds it into `y`.
  public func forward(_ x: Tensor, into y: Tensor, accumulate: Bool = false) {
    precondition(x !== y, "FoldedConv2d cannot write its output over its input.")
    let g = conv.geometry(for: x.shape)
    let cout = conv.outputChannels
    let shape = [g.n, g.p, g.q, cout]
    if accumulate {
      precondition(
        y.shape == shape && activation == .identity,
        "FoldedConv2d accumulate needs y of shape \(shape) (got \(y.shape)) and no activation.")
    } else if y.shape != shape {
      y.reshape(shape)
    }
    if conv.isDepthwise {
      precondition(!accumulate, "FoldedConv2d does not accumulate depthwise convolutions.")
      depthwiseForward(x.data, weight.data, bias.data, y.data, g, activation: activation)
      return
    }
    let rows = g.outputRows
    let k = g.kh * g.kw * g.c
    let block = FoldedConv2d.blockRows(k: k, n: cout)
    let blocks = (rows + block - 1) / block
    let splitting = Gemm.strategy == .splitRows
    let parts = splitting ? Swift.max(1, Swift.min(Parallel.workers, blocks)) : 1
    if !g.isPointwise {
      while scratch.count < parts { scratch.append(Tensor(shape: [0])) }
      for part in 0..<parts where scratch[part].capacity < block * k {
        scratch[part].reshape([block, k])
      }
    }
    Gemm.configureThreads()
    let (xp, wp, bp, yp) = (
      UnsafePointer(x.data), UnsafePointer(weight.data), UnsafePointer(bias.data), y.data
    )
    let cols = scratch.prefix(g.isPointwise ? 0 : parts).map { $0.data }
    let act = activation
    let beta: Float = accumulate ? 1 : 0
    let body: (Int) -> Void = { part in
      for b in Parallel.range(part, of: parts, total: blocks) {
        let r0 = b * block
        let m = Swift.min(rows, r0 + block) - r0
        var a = xp + r0 * k
        if !g.isPointwise {
          im2col(xp, cols[part], g, rows: r0..<(r0 + m))
          a = UnsafePointer(cols[part])
        }
        let c = yp + r0 * cout
        BLAS.sgemm(
          .none, .none, m: m, n: cout, k: k, a: a, lda: k, b: wp, ldb: cout, beta: beta, c: c,
          ldc: cout)
        biasActivate(c, rows: m, cols: cout, bp, act)
      }
    }
    if parts == 1 {
      body(0)
    } else {
      DispatchQueue.concurrentPerform(iterations: parts, execute: body)
    }
  }

  /// Output rows per GEMM block: the block's input and output rows stay within ~192 KB (L2)
  /// so the epilogue finds them in cache, but never fewer than 64 rows (GEMM efficiency).
  static func blockRows(k: Int, n: Int) -> Int {
    let rows = 49_152 / Swift.max(k + n, 1)
    return Swift.min(1024, Swift.max(64, rows / 16 * 16))
  }
}

/// y[r, c] = act(y[r, c] + bias[c]) for a (rows × cols) block.
@inline(__always)
func biasActivate(
  _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ bias: UnsafePointer<Float>,
  _ act: Activation
) {
  withActivation(act) { act in
    for r in 0..<rows {
      let yr = y + r * cols
      for i in 0..<cols { yr[i] = activate(yr[i] + bias[i], act) }
    }
  }
}
