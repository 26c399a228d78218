import Randomness

/// Seeded data augmentation on preprocessed (normalised, channels-last) images.
///
/// Geometric steps (flips, rotation, scale, translation, random crop) are fused into one
/// inverse affine map sampled bilinearly with edge clamping, so an image is resampled once.
/// Intensity steps (gamma, contrast, brightness) act on the [0, 1] display value recovered
/// from the normalisation, then Gaussian noise is added in normalised units. The same
/// (seed, epoch, sample) always gives the same result.
public struct Augmentation: Codable, Hashable, Sendable {
  /// Probability of a left-right flip.
  public var horizontalFlip: Double = 0.5
  /// Probability of an up-down flip.
  public var verticalFlip: Double = 0
  /// Maximum rotation in degrees (uniform in ±).
  public var rotationDegrees: Double = 10
  /// Scale range `[low, high]`.
  public var scale: [Double] = [0.9, 1.1]
  /// Maximum translation as a fraction of the size (uniform in ±, per axis).
  public var translate: Double = 0.05
  /// Random crop: kept area fraction `[low, high]` (then resized back to full size).
  public var cropArea: [Double] = [1, 1]
  /// Gamma range `[low, high]` (1 = none).
  public var gamma: [Double] = [0.9, 1.1]
  /// Contrast factor range around 0.5.
  public var contrast: [Double] = [0.9, 1.1]
  /// Brightness offset range on [0, 1] values.
  public var brightness: [Double] = [-0.05, 0.05]
  /// Gaussian noise standard deviation on [0, 1] values.
  public var noiseStd: Double = 0.01
  /// Normalisation that produced the inputs (to recover [0, 1] values).
  public var mean: Float = 0.5
  public var std: Float = 0.5

  public init() {}

  /// No augmentation at all (identity).
  public static var none: Augmentation {
    var a = Augmentation()
    a.horizontalFlip = 0
    a.rotationDegrees = 0
    a.scale = [1, 1]
    a.translate = 0
    a.gamma = [1, 1]
    a.contrast = [1, 1]
    a.brightness = [0, 0]
    a.noiseStd = 0
    return a
  }

  /// Augments `input` (H×W×C) into `output` with randomness drawn from `rng`.
  public func apply(
    _ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
    into output: UnsafeMutablePointer<Float>, rng: inout SeededGenerator
  ) {
    // Draw every parameter first, in a fixed order, so results depend only on the stream.
    let flipX = rng.bernoulli(horizontalFlip)
    let flipY = rng.bernoulli(verticalFlip)
    let angle = rng.uniform(-rotationDegrees, rotationDegrees) * .pi / 180
    let s = rng.uniform(scale[0], scale[1])
    let tx = rng.uniform(-translate, translate) * Double(width)
    let ty = rng.uniform(-translate, translate) * Double(height)
    let area = rng.uniform(cropArea[0], cropArea[1])
    let side = area.squareRoot()
    let cx = rng.uniform(-(1 - side) / 2, (1 - side) / 2) * Double(width)
    let cy = rng.uniform(-(1 - side) / 2, (1 - side) / 2) * Double(height)
    let g = rng.uniform(gamma[0], gamma[1])
    let k = rng.uniform(contrast[0], contrast[1])
    let b = rng.uniform(brightness[0], brightness[1])
    var noiseRng = SeededGenerator(seed: rng.next())

    // Output pixel (x, y) ← input at A⁻¹ applied around the centre.
    let cosA = _cos(angle)
    let sinA = _sin(angle)
    let inv = side / s  // crop shrinks the sampled region, scale enlarges the content
    let hx = Double(width) / 2
    let hy = Double(height) / 2
    let identity =
      !flipX && !flipY && angle == 0 && inv == 1 && tx == 0 && ty == 0 && cx == 0 && cy == 0
    let n = height * width
    for y in 0..<height {
      for x in 0..<width {
        let o = (y * width + x) * channels
        if identity {
          for c in 0..<channels { output[o + c] = input[o + c] }
          continue
        }
        var dx = Double(x) + 0.5 - hx
        var dy = Double(y) + 0.5 - hy
        if flipX { dx = -dx }
        if flipY { dy = -dy }
        let ux = (cosA * dx + sinA * dy) * inv + hx + cx - tx - 0.5
        let uy = (-sinA * dx + cosA * dy) * inv + hy + cy - ty - 0.5
        let x0f = ux.rounded(.down)
        let y0f = uy.rounded(.down)
        let fx = Float(ux - x0f)
        let fy = Float(uy - y0f)
        let x0 = min(max(Int(x0f), 0), width - 1)
        let x1 = min(max(Int(x0f) + 1, 0), width - 1)
        let y0 = min(max(Int(y0f), 0), height - 1)
        let y1 = min(max(Int(y0f) + 1, 0), height - 1)
        for c in 0..<channels {
          let v00 = input[(y0 * width + x0) * channels + c]
          let v01 = input[(y0 * width + x1) * channels + c]
          let v10 = input[(y1 * width + x0) * channels + c]
          let v11 = input[(y1 * width + x1) * channels + c]
          output[o + c] = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy
        }
      }
    }
    // Intensity on [0, 1] values; noise is shared by the channels of a pixel (gray replicated).
    let doIntensity = g != 1 || k != 1 || b != 0 || noiseStd > 0
    guard doIntensity else { return }
    let gf = Float(g)
    let kf = Float(k)
    let bf = Float(b)
    let ns = Float(noiseStd)
    for i in 0..<n {
      let noise = ns > 0 ? Float(noiseRng.normal()) * ns : 0
      for c in 0..<channels {
        var u = output[i * channels + c] * std + mean
        u = min(max(u, 0), 1)
        if gf != 1 { u = _powf(u, gf) }
        u = (u - 0.5) * kf + 0.5 + bf + noise
        output[i * channels + c] = (u - mean) / std
      }
    }
  }
}

#if canImport(Glibc)
  import Glibc
  @inline(__always) func _powf(_ x: Float, _ y: Float) -> Float { Glibc.powf(x, y) }
#else
  import Darwin
  @inline(__always) func _powf(_ x: Float, _ y: Float) -> Float { Darwin.powf(x, y) }
#endif
