import Randomness

/// What a site's scanner does to the true HU image: reconstruction kernel (blur or edge
/// boost, applied to anatomy and quantum noise alike), dose-dependent noise, HU calibration and
/// quantisation into stored values.
struct ScannerModel {
  let site: PhantomSpec.Site
  let size: Int
  let spacing: Double
  /// Separable 1-D Gaussian kernels for the kernel's two terms.
  let smooth: [Float]
  let wide: [Float]
  let gainSmooth: Float
  let gainWide: Float
  /// Scale of the white noise added before the kernel so that the final noise has the
  /// requested standard deviation.
  let whiteNoiseStd: Float
  let minStored: Int
  let maxStored: Int

  init(site: PhantomSpec.Site, size: Int) {
    self.site = site
    self.size = size
    spacing = site.fovMM / Double(size)
    // Kernel = (1 + a) G_s - a G_t with t = sqrt(s² + 1.2²) pixels: a Gaussian blur of width
    // s followed by an unsharp mask of radius ~1.2 px and gain a.
    let s = site.blurMM / spacing
    let t = (s * s + 1.44).squareRoot()
    smooth = ScannerModel.gaussian(sigma: s)
    wide = ScannerModel.gaussian(sigma: t)
    gainSmooth = Float(1 + site.sharpen)
    gainWide = Float(site.sharpen)
    // White-noise variance gain of the 2-D kernel: sum of its squared taps.
    let rs = smooth.count / 2
    let rw = wide.count / 2
    let r = max(rs, rw)
    var sumSquares = 0.0
    for i in -r...r {
      for j in -r...r {
        func tap(_ k: [Float], _ rr: Int) -> Double {
          abs(i) <= rr && abs(j) <= rr ? Double(k[i + rr] * k[j + rr]) : 0
        }
        let v = Double(gainSmooth) * tap(smooth, rs) - Double(gainWide) * tap(wide, rw)
        sumSquares += v * v
      }
    }
    let target = site.noiseHUAt100mAs * (100 / site.exposureMAs).squareRoot()
    whiteNoiseStd = Float(target / sumSquares.squareRoot())
    let bits = site.bitsStored
    if site.signed {
      minStored = -(1 << (bits - 1))
      maxStored = (1 << (bits - 1)) - 1
    } else {
      minStored = 0
      maxStored = (1 << bits) - 1
    }
  }

  /// A normalised Gaussian kernel of standard deviation `sigma` pixels (identity when tiny).
  static func gaussian(sigma: Double) -> [Float] {
    guard sigma > 0.05 else { return [1] }
    let r = max(Int((3 * sigma).rounded(.up)), 1)
    var k = (-r...r).map { Float(_exp(-Double($0 * $0) / (2 * sigma * sigma))) }
    let sum = k.reduce(0, +)
    for i in k.indices { k[i] /= sum }
    return k
  }

  /// Applies calibration, noise and the kernel to `hu` in place.
  /// `scratch` must hold at least `3 * size * size` floats.
  func apply(
    _ hu: UnsafeMutableBufferPointer<Float>, scratch: UnsafeMutableBufferPointer<Float>,
    rng: inout SeededGenerator
  ) {
    let n = size * size
    let noise = UnsafeMutableBufferPointer(rebasing: scratch[0..<n])
    rng.fillNormal(noise, scale: whiteNoiseStd)
    let gain = Float(site.huGain)
    let offset = Float(site.huOffset)
    for i in 0..<n { hu[i] = hu[i] * gain + offset + noise[i] }
    let a = UnsafeMutableBufferPointer(rebasing: scratch[n..<(2 * n)])
    let b = UnsafeMutableBufferPointer(rebasing: scratch[(2 * n)..<(3 * n)])
    if gainWide == 0 {
      if smooth.count > 1 {
        ScannerModel.blur(hu, kernel: smooth, size: size, temp: a, out: b)
        hu.baseAddress!.update(from: b.baseAddress!, count: n)
      }
      return
    }
    // b = G_t x; then hu = gs * G_s x - gw * b.
    ScannerModel.blur(hu, kernel: wide, size: size, temp: a, out: b)
    if smooth.count > 1 {
      ScannerModel.blur(hu, kernel: smooth, size: size, temp: a, out: noise)
      for i in 0..<n { hu[i] = gainSmooth * noise[i] - gainWide * b[i] }
    } else {
      for i in 0..<n { hu[i] = gainSmooth * hu[i] - gainWide * b[i] }
    }
  }

  /// Separable convolution with edge clamping: x → temp (rows) → out (columns).
  static func blur(
    _ x: UnsafeMutableBufferPointer<Float>, kernel: [Float], size: Int,
    temp: UnsafeMutableBufferPointer<Float>, out: UnsafeMutableBufferPointer<Float>
  ) {
    let r = kernel.count / 2
    kernel.withUnsafeBufferPointer { k in
      for i in 0..<size {
        let row = i * size
        for j in 0..<size {
          var acc: Float = 0
          if j >= r && j < size - r {
            for t in 0..<k.count { acc += k[t] * x[row + j - r + t] }
          } else {
            for t in 0..<k.count { acc += k[t] * x[row + min(max(j - r + t, 0), size - 1)] }
          }
          temp[row + j] = acc
        }
      }
      for i in 0..<size {
        for j in 0..<size {
          var acc: Float = 0
          for t in 0..<k.count {
            let ii = min(max(i - r + t, 0), size - 1)
            acc += k[t] * temp[ii * size + j]
          }
          out[i * size + j] = acc
        }
      }
    }
  }

  /// Converts HU into stored values for the site's representation. For MONOCHROME1 the stored
  /// values are inverted and the rescale slope is negated (see `writtenRescale`), so the
  /// modality LUT of a conforming reader still returns HU.
  func quantize(_ hu: UnsafeMutableBufferPointer<Float>, into stored: inout [Int32]) {
    let slope = Float(site.rescaleSlope)
    let intercept = Float(site.rescaleIntercept)
    let invert = site.photometric == "MONOCHROME1"
    let lo = Float(minStored)
    let hi = Float(maxStored)
    for i in 0..<(size * size) {
      var v = ((hu[i] - intercept) / slope).rounded()
      v = min(max(v, lo), hi)
      var s = Int(v)
      if invert { s = minStored + maxStored - s }
      stored[i] = Int32(s)
    }
  }

  /// The (slope, intercept) written to the header.
  var writtenRescale: (slope: Double, intercept: Double) {
    if site.photometric == "MONOCHROME1" {
      return (
        -site.rescaleSlope,
        site.rescaleIntercept + site.rescaleSlope * Double(minStored + maxStored)
      )
    }
    return (site.rescaleSlope, site.rescaleIntercept)
  }
}
