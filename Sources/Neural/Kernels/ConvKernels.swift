// Convolution kernels on channels-last (NHWC) activations.
//
//   ConvGeometry                      input/kernel/stride/padding/output sizes of one call.
//   im2col / col2im                   patches for k×k convolutions done as one GEMM.
//   depthwiseForward                  PyTorch F.conv2d(groups=C), SIMD over contiguous channels.
//   depthwiseBackwardInput / …Weight  its input and weight gradients.
//
// Depthwise kernels keep weights as (KH, KW, C), so at every output position the channel loop
// reads contiguous channels of input, weight and output: no im2col, no transposes.

/// Sizes of one convolution call. Input (N, H, W, C), output (N, P, Q, ·).
struct ConvGeometry: Equatable {
  var n: Int, h: Int, w: Int, c: Int
  var kh: Int, kw: Int, stride: Int
  var padTop: Int, padLeft: Int
  var p: Int, q: Int

  /// Rows of the output viewed as a matrix (N·P·Q).
  var outputRows: Int { n * p * q }
  /// Whether the convolution is a plain matrix product over channels (1×1, stride 1, no pad).
  var isPointwise: Bool {
    kh == 1 && kw == 1 && stride == 1 && padTop == 0 && padLeft == 0 && p == h && q == w
  }
}

// MARK: - im2col / col2im

// x: (N, H, W, C) -> col: (N·P·Q, KH·KW·C), row (n,p,q) = the patch in (kh, kw, c) order,
// zeros where the patch leaves the padded image (torch.nn.functional.unfold, channels-last).
func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
  let rows = g.outputRows
  let width = g.kh * g.kw * g.c
  let slices = Parallel.slices(items: rows, work: rows * width)
  Parallel.forEach(slices) { s in
    let range = Parallel.range(s, of: slices, total: rows)
    im2col(x, col + range.lowerBound * width, g, rows: range)
  }
}

// x: (N, H, W, C) -> col: (rows.count, KH·KW·C), the im2col rows `rows` only (on the calling
// thread), written from `col` on.
func im2col(
  _ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
  rows: Range<Int>
) {
  var dst = col
  for row in rows {
    let q = row % g.q
    let np = row / g.q
    let p = np % g.p
    let n = np / g.p
    for kh in 0..<g.kh {
      let ih = p * g.stride - g.padTop + kh
      for kw in 0..<g.kw {
        let iw = q * g.stride - g.padLeft + kw
        if ih >= 0 && ih < g.h && iw >= 0 && iw < g.w {
          dst.update(from: x + ((n * g.h + ih) * g.w + iw) * g.c, count: g.c)
        } else {
          dst.update(repeating: 0, count: g.c)
        }
        dst += g.c
      }
    }
  }
}

// dcol: (N·P·Q, KH·KW·C) -> dx: (N, H, W, C), each input pixel gathering every patch entry
// that read it (col2im / torch.nn.functional.fold). Overwrites dx.
func col2im(_ dcol: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
  let rows = g.n * g.h
  let width = g.kh * g.kw * g.c
  let slices = Parallel.slices(items: rows, work: rows * g.w * width)
  Parallel.forEach(slices) { s in
    for row in Parallel.range(s, of: slices, total: rows) {
      let n = row / g.h
      let ih = row % g.h
      for iw in 0..<g.w {
        let dst = dx + (row * g.w + iw) * g.c
        dst.update(repeating: 0, count: g.c)
        for kh in 0..<g.kh {
          let t = ih + g.padTop - kh
          if t < 0 || t % g.stride != 0 { continue }
          let p = t / g.stride
          if p >= g.p { continue }
          for kw in 0..<g.kw {
            let u = iw + g.padLeft - kw
            if u < 0 || u % g.stride != 0 { continue }
            let q = u / g.stride
            if q >= g.q { continue }
            let src = dcol + ((n * g.p + p) * g.q + q) * width + (kh * g.kw + kw) * g.c
            addInPlace(dst, src, g.c)
          }
        }
      }
    }
  }
}

/// dst[i] += src[i] for i in 0..<count. (Plain loops: LLVM vectorises them better than
/// Swift's SIMD types, which measured 2–3× slower here.)
@inline(__always)
func addInPlace(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ count: Int) {
  for i in 0..<count { dst[i] += src[i] }
}

// MARK: - Depthwise

/// dst[c] = (bias[c] or 0) + Σ_j src[off[j] + c] · w[woff[j] + c] over contiguous channels.
///
/// Taps go four per channel loop: dst is loaded and stored once per four taps instead of once
/// per tap, and the vectoriser's overlap checks are paid a quarter as often (both dominated at
/// 32–96 channels). Swift's SIMD8<Float> versions of this measured 5× slower here.
@inline(__always)
func accumulateTaps(
  _ src: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ off: UnsafePointer<Int>,
  _ woff: UnsafePointer<Int>, _ taps: Int, _ bias: UnsafePointer<Float>?,
  _ dst: UnsafeMutablePointer<Float>, _ channels: Int
) {
  if let b = bias {
    dst.update(from: b, count: channels)
  } else {
    dst.update(repeating: 0, count: channels)
  }
  var j = 0
  while j + 4 <= taps {
    let (s0, s1, s2, s3) = (src + off[j], src + off[j + 1], src + off[j + 2], src + off[j + 3])
    let (w0, w1, w2, w3) = (w + woff[j], w + woff[j + 1], w + woff[j + 2], w + woff[j + 3])
    for c in 0..<channels {
      dst[c] += (s0[c] * w0[c] + s1[c] * w1[c]) + (s2[c] * w2[c] + s3[c] * w3[c])
    }
    j += 4
  }
  while j < taps {
    let sp = src + off[j]
    let wp = w + woff[j]
    for c in 0..<channels { dst[c] += sp[c] * wp[c] }
    j += 1
  }
}

// x: (N, H, W, C), w: (KH, KW, C) -> y: (N, P, Q, C)
// PyTorch: F.conv2d(x, weight (C, 1, KH, KW), groups=C, stride, padding) on channels_last.
// With `activation` (the fused inference path) each output pixel is activated while it is in L1.
func depthwiseForward(
  _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
  _ y: UnsafeMutablePointer<Float>, _ g: ConvGeometry, activation: Activation = .identity
) {
  let rows = g.n * g.p
  let taps = g.kh * g.kw
  let slices = Parallel.slices(items: rows, work: rows * g.q * g.c * taps)
  Parallel.forEach(slices) { s in
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * taps) { scratch in
      let off = scratch.baseAddress!
      let woff = off + taps
      for row in Parallel.range(s, of: slices, total: rows) {
        let n = row / g.p
        let p = row % g.p
        let ih0 = p * g.stride - g.padTop
        let khlo = Swift.max(0, -ih0)
        let khhi = Swift.min(g.kh, g.h - ih0)
        for q in 0..<g.q {
          let iw0 = q * g.stride - g.padLeft
          let kwlo = Swift.max(0, -iw0)
          let kwhi = Swift.min(g.kw, g.w - iw0)
          var t = 0
          if khlo < khhi && kwlo < kwhi {
            for kh in khlo..<khhi {
              for kw in kwlo..<kwhi {
                off[t] = ((n * g.h + ih0 + kh) * g.w + iw0 + kw) * g.c
                woff[t] = (kh * g.kw + kw) * g.c
                t += 1
              }
            }
          }
          let dst = y + (row * g.q + q) * g.c
          accumulateTaps(x, w, off, woff, t, bias, dst, g.c)
          if activation != .identity { activateInPlace(dst, g.c, activation) }
        }
      }
    }
  }
}

/// v[i] = act(v[i]) for i in 0..<count.
@inline(__always)
func activateInPlace(_ v: UnsafeMutablePointer<Float>, _ count: Int, _ act: Activation) {
  withActivation(act) { act in
    for i in 0..<count { v[i] = activate(v[i], act) }
  }
}

// dy: (N, P, Q, C), w: (KH, KW, C) -> dx: (N, H, W, C) (overwritten)
// PyTorch: the input gradient of F.conv2d(groups=C), gathered per input pixel.
func depthwiseBackwardInput(
  _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
  _ g: ConvGeometry
) {
  let rows = g.n * g.h
  let taps = g.kh * g.kw
  let slices = Parallel.slices(items: rows, work: rows * g.w * g.c * taps)
  Parallel.forEach(slices) { s in
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * taps) { scratch in
      let off = scratch.baseAddress!
      let woff = off + taps
      for row in Parallel.range(s, of: slices, total: rows) {
        let n = row / g.h
        let ih = row % g.h
        for iw in 0..<g.w {
          var t = 0
          for kh in 0..<g.kh {
            let a = ih + g.padTop - kh
            if a < 0 || a % g.stride != 0 { continue }
            let p = a / g.stride
            if p >= g.p { continue }
            for kw in 0..<g.kw {
              let b = iw + g.padLeft - kw
              if b < 0 || b % g.stride != 0 { continue }
              let q = b / g.stride
              if q >= g.q { continue }
              off[t] = ((n * g.p + p) * g.q + q) * g.c
              woff[t] = (kh * g.kw + kw) * g.c
              t += 1
            }
          }
          accumulateTaps(dy, w, off, woff, t, nil, dx + (row * g.w + iw) * g.c, g.c)
        }
      }
    }
  }
}

/// Fixed number of partial sums for weight-gradient reductions: results do not depend on the
/// worker count.
let reductionSlices = 8

// x: (N, H, W, C), dy: (N, P, Q, C) -> dw: (KH, KW, C) (accumulated, +=)
// PyTorch: the weight gradient of F.conv2d(groups=C). `partial` holds
// min(8, N·P) × KH·KW·C floats of scratch.
func depthwiseBackwardWeight(
  _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
  _ partial: UnsafeMutablePointer<Float>, _ g: ConvGeometry
) {
  let rows = g.n * g.p
  let size = g.kh * g.kw * g.c
  let slices = Swift.min(reductionSlices, rows)
  partial.update(repeating: 0, count: slices * size)
  Parallel.forEach(slices) { s in
    let acc = partial + s * size
    for row in Parallel.range(s, of: slices, total: rows) {
      let n = row / g.p
      let p = row % g.p
      let dyRow = dy + row * g.q * g.c
      for kh in 0..<g.kh {
        let ih = p * g.stride - g.padTop + kh
        if ih < 0 || ih >= g.h { continue }
        let xRow = x + (n * g.h + ih) * g.w * g.c
        for kw in 0..<g.kw {
          // q range whose input column q·s − padLeft + kw lies inside the image.
          let lastColumn = g.w - 1 + g.padLeft - kw
          if lastColumn < 0 { continue }
          let first = Swift.max(0, (g.padLeft - kw + g.stride - 1) / g.stride)
          let last = Swift.min(g.q - 1, lastColumn / g.stride)
          if first > last { continue }
          let xStep = g.stride * g.c
          let x0 = xRow + (first * g.stride - g.padLeft + kw) * g.c
          let dy0 = dyRow + first * g.c
          let out = acc + (kh * g.kw + kw) * g.c
          var xp = x0
          var dp = dy0
          // Four output columns per channel loop (out is loaded and stored a quarter as often).
          var q = first
          while q + 4 <= last + 1 {
            let (x1, x2, x3) = (xp + xStep, xp + 2 * xStep, xp + 3 * xStep)
            let (d1, d2, d3) = (dp + g.c, dp + 2 * g.c, dp + 3 * g.c)
            for c in 0..<g.c {
              out[c] += (xp[c] * dp[c] + x1[c] * d1[c]) + (x2[c] * d2[c] + x3[c] * d3[c])
            }
            xp += 4 * xStep
            dp += 4 * g.c
            q += 4
          }
          while q <= last {
            for c in 0..<g.c { out[c] += xp[c] * dp[c] }
            xp += xStep
            dp += g.c
            q += 1
          }
        }
      }
    }
  }
  for s in 0..<slices { addInPlace(dw, partial + s * size, size) }
}

// MARK: - Reductions

// src: (rows, cols) -> dst: (cols) += column sums. Fixed slices, added in order.
func addColumnSums(
  _ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>,
  scratch: Tensor
) {
  let slices = Swift.min(reductionSlices, Swift.max(rows, 1))
  scratch.reshape([slices, cols])
  let partial = scratch.data
  partial.update(repeating: 0, count: slices * cols)
  let work = rows * cols
  let body: (Int) -> Void = { s in
    let acc = partial + s * cols
    for r in Parallel.range(s, of: slices, total: rows) { addInPlace(acc, src + r * cols, cols) }
  }
  if work < Parallel.minimumParallelWork {
    for s in 0..<slices { body(s) }
  } else {
    Parallel.forEach(slices, body)
  }
  for s in 0..<slices { addInPlace(dst, partial + s * cols, cols) }
}
