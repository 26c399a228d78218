// BatchNorm2d: PyTorch nn.BatchNorm2d over the channel (last) axis, optionally fused with the
// activation that follows it (one pass over memory instead of two, one buffer instead of two).
//
//   BatchNorm2d(channels:eps:momentum:activation:)   eps 1e-5 / momentum 0.1 like PyTorch;
//                                                    EfficientNet-Lite uses eps 1e-3.
//   .training              batch statistics, running stats updated with PyTorch momentum
//                          (running_var uses the unbiased batch variance), num_batches_tracked += 1.
//   .inference             running statistics.
//   freezeStatistics=true  .training uses (and keeps) the running statistics, gradients still
//                          flow to weight/bias and the input (fine-tuning with frozen BN).
//   parameters "weight", "bias"; buffers "running_mean", "running_var", "num_batches_tracked".
//
// Works on any tensor whose last axis is the channel axis (N, H, W, C) or (N, C).

import LinearAlgebra
import Randomness

/// The pointwise nonlinearity a layer applies (ReLU6 is PyTorch's `hardtanh(0, 6)`).
public enum Activation: Sendable, Equatable {
  case identity
  case relu
  case relu6
}

/// Batch normalisation over every axis but the last, with an optional fused activation.
public final class BatchNorm2d: Layer {
  public let channels: Int
  public let eps: Float
  /// PyTorch momentum: running = (1 − momentum)·running + momentum·batch. Mutable: a trainer
  /// may use a faster average than the pretrained network's (EfficientNet-Lite's 0.01 keeps
  /// ImageNet statistics for hundreds of steps), and AdaBN uses 1/k for a cumulative mean.
  public var momentum: Float
  /// Applied after the affine transform (the ReLU6 that follows a BN in EfficientNet-Lite).
  public let activation: Activation
  /// γ (C), PyTorch "weight".
  public let weight: Parameter
  /// β (C), PyTorch "bias".
  public let bias: Parameter
  public let runningMean: Tensor
  public let runningVar: Tensor
  /// Counts training batches (stored as Float; PyTorch keeps an int64 scalar).
  public let numBatchesTracked: Tensor
  /// When true, `.training` normalises with the running statistics and does not update them.
  public var freezeStatistics = false
  /// When true, `backward(dy)` writes dL/dx over `dy` and returns `dy` (no input-gradient buffer
  /// of its own: at 224 px that is the largest gradient buffers of a model). Only for a norm
  /// whose caller never reads `dy` again, e.g. not the last layer of a residual body.
  public var overwritesOutputGradient = false

  private let output = Tensor(shape: [0])
  private let inputGradient = Tensor(shape: [0])
  private let mean: Tensor
  private let rstd: Tensor
  private let variance: Tensor
  private let scale: Tensor
  private let shift: Tensor
  private let sums: UnsafeMutablePointer<Double>
  private var input: Tensor?
  private var usedBatchStatistics = false

  /// Creates a batch norm over `channels` with γ = 1, β = 0, running mean 0 and variance 1.
  public init(
    channels: Int, eps: Float = 1e-5, momentum: Float = 0.1, activation: Activation = .identity
  ) {
    precondition(channels > 0, "BatchNorm2d needs at least one channel.")
    self.channels = channels
    self.eps = eps
    self.momentum = momentum
    self.activation = activation
    weight = Parameter(Tensor(shape: [channels]))
    bias = Parameter(Tensor(shape: [channels]))
    weight.value.fill(1)
    runningMean = Tensor(shape: [channels])
    runningVar = Tensor(shape: [channels])
    runningVar.fill(1)
    numBatchesTracked = Tensor(shape: [])
    mean = Tensor(shape: [channels])
    rstd = Tensor(shape: [channels])
    variance = Tensor(shape: [channels])
    scale = Tensor(shape: [channels])
    shift = Tensor(shape: [channels])
    sums = .allocate(capacity: 2 * reductionSlices * channels)
  }

  deinit { sums.deallocate() }

  public var parameters: [(name: String, parameter: Parameter)] {
    [("weight", weight), ("bias", bias)]
  }

  public var buffers: [(name: String, tensor: Tensor)] {
    [
      ("running_mean", runningMean), ("running_var", runningVar),
      ("num_batches_tracked", numBatchesTracked),
    ]
  }

  public var kind: String {
    switch activation {
    case .identity: return "BatchNorm2d"
    case .relu: return "BatchNorm2d+ReLU"
    case .relu6: return "BatchNorm2d+ReLU6"
    }
  }

  /// PyTorch's reset: γ = 1, β = 0, running statistics reset.
  public func resetParameters(using generator: inout SeededGenerator) {
    weight.value.fill(1)
    bias.value.zero()
    runningMean.zero()
    runningVar.fill(1)
    numBatchesTracked.zero()
  }

  // x: (…, C) -> y: (…, C)   PyTorch: F.batch_norm (+ F.relu6) on channels_last
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    let c = channels
    precondition(
      x.shape.last == c,
      "BatchNorm2d(\(c)) needs a channels-last input ending in \(c), got \(x.shape).")
    let rows = x.count / c
    let batchStatistics = mode == .training && !freezeStatistics
    if batchStatistics {
      precondition(
        rows > 1, "BatchNorm2d in training needs more than one value per channel, got \(x.shape).")
      batchMoments(x.data, rows: rows)
      let m = Float(rows)
      for i in 0..<c {
        let rm = runningMean.data[i]
        let rv = runningVar.data[i]
        runningMean.data[i] = (1 - momentum) * rm + momentum * mean.data[i]
        runningVar.data[i] = (1 - momentum) * rv + momentum * variance.data[i] * m / (m - 1)
      }
      numBatchesTracked.data[0] += 1
    } else {
      for i in 0..<c {
        mean.data[i] = runningMean.data[i]
        rstd.data[i] = 1 / (runningVar.data[i] + eps).squareRoot()
      }
    }
    for i in 0..<c {
      scale.data[i] = weight.value.data[i] * rstd.data[i]
      shift.data[i] = bias.value.data[i] - mean.data[i] * scale.data[i]
    }
    output.reshape(x.shape)
    scaleShift(x.data, output.data, rows: rows, channels: c, scale.data, shift.data, activation)
    input = mode == .training ? x : nil
    usedBatchStatistics = batchStatistics
    return output
  }

  /// mean and rstd from the batch: sums of (x − x₀) and (x − x₀)² per channel (x₀ = first row,
  /// which keeps the variance from cancelling), Float within 256-row blocks, Double across.
  private func batchMoments(_ x: UnsafePointer<Float>, rows: Int) {
    let c = channels
    let slices = Swift.min(reductionSlices, rows)
    let sums = self.sums
    sums.update(repeating: 0, count: 2 * slices * c)
    Parallel.forEach(slices) { s in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * c) { block in
        let f1 = block.baseAddress!
        let f2 = f1 + c
        let d1 = sums + 2 * s * c
        let d2 = d1 + c
        let range = Parallel.range(s, of: slices, total: rows)
        var start = range.lowerBound
        while start < range.upperBound {
          let end = Swift.min(start + 256, range.upperBound)
          f1.update(repeating: 0, count: 2 * c)
          for r in start..<end {
            let xr = x + r * c
            for i in 0..<c {
              let d = xr[i] - x[i]
              f1[i] += d
              f2[i] += d * d
            }
          }
          for i in 0..<c {
            d1[i] += Double(f1[i])
            d2[i] += Double(f2[i])
          }
          start = end
        }
      }
    }
    let m = Double(rows)
    for i in 0..<c {
      var s1 = 0.0
      var s2 = 0.0
      for s in 0..<slices {
        s1 += sums[2 * s * c + i]
        s2 += sums[(2 * s + 1) * c + i]
      }
      let shiftMean = s1 / m
      let v = Swift.max(s2 / m - shiftMean * shiftMean, 0)
      mean.data[i] = Float(Double(x[i]) + shiftMean)
      variance.data[i] = Float(v)
      rstd.data[i] = Float(1 / (v + Double(eps)).squareRoot())
    }
  }

  // dy: (…, C) -> dx: (…, C); weight.grad += Σ dz·x̂, bias.grad += Σ dz (dz = dy · act′)
  public func backward(_ dy: Tensor) -> Tensor {
    guard let x = input else {
      preconditionFailure("BatchNorm2d.backward needs a forward pass in .training mode first.")
    }
    precondition(
      dy.shape == x.shape, "BatchNorm2d.backward got dy \(dy.shape), expected \(x.shape).")
    let c = channels
    let rows = x.count / c
    // Σ dz and Σ dz·x̂ per channel (Double across slices).
    let slices = Swift.min(reductionSlices, rows)
    let sums = self.sums
    sums.update(repeating: 0, count: 2 * slices * c)
    let (xp, dyp) = (UnsafePointer(x.data), UnsafePointer(dy.data))
    let (sc, sh, mu, rs) = (scale.data, shift.data, mean.data, rstd.data)
    let act = activation
    Parallel.forEach(slices) { s in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * c) { block in
        let f1 = block.baseAddress!
        let f2 = f1 + c
        let d1 = sums + 2 * s * c
        let d2 = d1 + c
        let range = Parallel.range(s, of: slices, total: rows)
        var start = range.lowerBound
        while start < range.upperBound {
          let end = Swift.min(start + 256, range.upperBound)
          f1.update(repeating: 0, count: 2 * c)
          withActivation(act) { act in
            for r in start..<end {
              let xr = xp + r * c
              let dr = dyp + r * c
              for i in 0..<c {
                let xv = xr[i]
                let dz = gate(dr[i], xv * sc[i] + sh[i], act)
                f1[i] += dz
                f2[i] += dz * ((xv - mu[i]) * rs[i])
              }
            }
          }
          for i in 0..<c {
            d1[i] += Double(f1[i])
            d2[i] += Double(f2[i])
          }
          start = end
        }
      }
    }
    // Per-channel coefficients: dx = dz·k1 + x·k2 + k3.
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * c) {
      coefficients -> Tensor in
      let k1 = coefficients.baseAddress!
      let k2 = k1 + c
      let k3 = k2 + c
      let m = Double(rows)
      for i in 0..<c {
        var sumDz = 0.0
        var sumDzXhat = 0.0
        for s in 0..<slices {
          sumDz += sums[2 * s * c + i]
          sumDzXhat += sums[(2 * s + 1) * c + i]
        }
        if !weight.frozen { weight.grad.data[i] += Float(sumDzXhat) }
        if !bias.frozen { bias.grad.data[i] += Float(sumDz) }
        k1[i] = sc[i]
        if usedBatchStatistics {
          let a = -Double(sc[i]) * sumDzXhat / m
          let b = -Double(sc[i]) * sumDz / m
          let r = Double(rs[i])
          k2[i] = Float(a * r)
          k3[i] = Float(b - a * Double(mu[i]) * r)
        } else {
          k2[i] = 0
          k3[i] = 0
        }
      }
      let result = overwritesOutputGradient ? dy : inputGradient
      if !overwritesOutputGradient { inputGradient.reshape(x.shape) }
      let dx = result.data
      let inPlace = overwritesOutputGradient
      let slicesDx = Parallel.slices(items: rows, work: rows * c)
      Parallel.forEach(slicesDx) { s in
        withActivation(act) { act in
          for r in Parallel.range(s, of: slicesDx, total: rows) {
            let xr = xp + r * c
            let out = dx + r * c
            if inPlace {
              // Reads and writes through one pointer, so the vectoriser sees no overlap.
              for i in 0..<c {
                let xv = xr[i]
                let dz = gate(out[i], xv * sc[i] + sh[i], act)
                out[i] = dz * k1[i] + xv * k2[i] + k3[i]
              }
            } else {
              let dr = dyp + r * c
              for i in 0..<c {
                let xv = xr[i]
                let dz = gate(dr[i], xv * sc[i] + sh[i], act)
                out[i] = dz * k1[i] + xv * k2[i] + k3[i]
              }
            }
          }
        }
      }
      return result
    }
  }
}

// MARK: - Pointwise kernels shared with the activation layers
//
// Plain scalar loops: LLVM vectorises them (the loop-invariant activation is folded by
// `withActivation`), and they measured 2–3× faster here than the same code on SIMD8<Float>.

/// Calls `body` with `act` as a compile-time constant in each branch, so the activation's
/// switch folds out of the inner loops after inlining.
@inline(__always)
func withActivation(_ act: Activation, _ body: (Activation) -> Void) {
  switch act {
  case .identity: body(.identity)
  case .relu: body(.relu)
  case .relu6: body(.relu6)
  }
}

/// dy where the activation passes gradient at pre-activation z (PyTorch: relu passes z > 0,
/// hardtanh(0, 6) passes 0 < z < 6), else 0.
@inline(__always)
func gate(_ dy: Float, _ z: Float, _ act: Activation) -> Float {
  switch act {
  case .identity: return dy
  case .relu: return z > 0 ? dy : 0
  case .relu6: return z > 0 && z < 6 ? dy : 0
  }
}

/// The activation of z.
@inline(__always)
func activate(_ z: Float, _ act: Activation) -> Float {
  switch act {
  case .identity: return z
  case .relu: return Swift.max(z, 0)
  case .relu6: return Swift.min(Swift.max(z, 0), 6)
  }
}

// x: (rows, C) -> y = act(x·scale + shift), per-channel scale and shift.
func scaleShift(
  _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, channels c: Int,
  _ scale: UnsafePointer<Float>, _ shift: UnsafePointer<Float>, _ act: Activation
) {
  let slices = Parallel.slices(items: rows, work: rows * c)
  Parallel.forEach(slices) { s in
    withActivation(act) { act in
      for r in Parallel.range(s, of: slices, total: rows) {
        let xr = x + r * c
        let yr = y + r * c
        for i in 0..<c { yr[i] = activate(xr[i] * scale[i] + shift[i], act) }
      }
    }
  }
}
