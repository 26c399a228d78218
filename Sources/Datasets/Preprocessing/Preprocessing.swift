import Foundation
import ScanIO

/// The preprocessing pipeline, fully described by value: modality LUT → VOI window → resample
/// to the input size → channels → normalisation `(v/255 − mean)/std`.
///
/// Its `hash` (SHA-256 of the canonical JSON) goes into a run's config and keys the tensor
/// cache, so any change of setting invalidates exactly the cached tensors it affects.
public struct Preprocessing: Codable, Hashable, Sendable {
  /// How modality values are mapped to [0, 255].
  public enum Window: Codable, Hashable, Sendable {
    /// The file's first WindowCenter/WindowWidth, or `fallback` when the file has none.
    case file(fallbackCenter: Double, fallbackWidth: Double)
    /// A fixed window (e.g. lung: center −600, width 1500).
    case fixed(center: Double, width: Double)
    /// The image's own `low`–`high` percentiles (e.g. 0.5 and 99.5).
    case percentile(low: Double, high: Double)
  }

  /// The VOI window.
  public var window: Window
  /// Output height and width in pixels.
  public var size: Int
  /// 1 (gray) or 3 (gray replicated to RGB, for ImageNet backbones).
  public var channels: Int
  /// Invert MONOCHROME1 images after windowing (display convention). Off by default: for CT
  /// the modality values are physical (HU) whatever the photometric interpretation.
  public var invertMonochrome1: Bool
  /// Normalisation mean and std applied to v/255 (ImageNet EfficientNet-Lite: 0.5, 0.5).
  public var mean: Float
  public var std: Float
  /// Bumped when the implementation changes output for the same settings.
  public var version: Int

  public init(
    window: Window = .fixed(center: -600, width: 1500), size: Int = 224, channels: Int = 3,
    invertMonochrome1: Bool = false, mean: Float = 0.5, std: Float = 0.5
  ) {
    precondition(size > 0 && (channels == 1 || channels == 3), "Preprocessing needs size > 0 and 1 or 3 channels.")
    self.window = window
    self.size = size
    self.channels = channels
    self.invertMonochrome1 = invertMonochrome1
    self.mean = mean
    self.std = std
    self.version = 1
  }

  /// SHA-256 (hex) of the canonical JSON description.
  public var hash: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return sha256Hex(try! encoder.encode(self))
  }

  /// Values per output image (size × size × channels).
  public var valuesPerImage: Int { size * size * channels }

  /// Runs the pipeline on a decoded image; returns H×W×C (channels-last) Float32.
  public func apply(_ scan: DecodedScan) -> [Float] {
    var out = [Float](repeating: 0, count: valuesPerImage)
    out.withUnsafeMutableBufferPointer { apply(scan, into: $0.baseAddress!) }
    return out
  }

  /// Runs the pipeline writing `valuesPerImage` floats into `out`.
  public func apply(_ scan: DecodedScan, into out: UnsafeMutablePointer<Float>) {
    let (center, width) = resolvedWindow(scan)
    // DICOM PS3.3 C.11.2.1.2.1 linear window, to [0, 1].
    let lo = center - 0.5 - (width - 1) / 2
    let scale = width > 1 ? 1 / (width - 1) : 1
    let invert = invertMonochrome1 && scan.photometric == "MONOCHROME1"
    var unit = [Float](repeating: 0, count: scan.values.count)
    scan.values.withUnsafeBufferPointer { v in
      for i in 0..<v.count {
        var u = Float((Double(v[i]) - lo) * scale)
        u = min(max(u, 0), 1)
        unit[i] = invert ? 1 - u : u
      }
    }
    let resized = Resampler.resize(
      unit, height: scan.height, width: scan.width, newHeight: size, newWidth: size)
    let a = 1 / std
    let b = -mean / std
    let c = channels
    for i in 0..<(size * size) {
      let v = resized[i] * a + b
      for k in 0..<c { out[i * c + k] = v }
    }
  }

  /// The (center, width) used for `scan`.
  public func resolvedWindow(_ scan: DecodedScan) -> (Double, Double) {
    switch window {
    case .fixed(let c, let w): return (c, max(w, 1))
    case .file(let c, let w):
      if let fw = scan.fileWindow { return (fw.center, max(fw.width, 1)) }
      return (c, max(w, 1))
    case .percentile(let low, let high):
      let sorted = scan.values.sorted()
      guard !sorted.isEmpty else { return (0, 1) }
      func q(_ p: Double) -> Double {
        Double(sorted[min(max(Int((p / 100 * Double(sorted.count - 1)).rounded()), 0), sorted.count - 1)])
      }
      let a = q(low)
      let b = max(q(high), a + 1)
      return ((a + b) / 2 + 0.5, b - a + 1)
    }
  }

  /// Parses a window setting: "file", "file:-600,1500", "-600,1500" or "p0.5,99.5".
  public static func parseWindow(_ text: String) throws -> Window {
    let t = text.trimmingCharacters(in: .whitespaces)
    func pair(_ s: Substring) -> (Double, Double)? {
      let p = s.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
      return p.count == 2 ? (p[0], p[1]) : nil
    }
    if t == "file" { return .file(fallbackCenter: -600, fallbackWidth: 1500) }
    if t.hasPrefix("file:"), let (c, w) = pair(t.dropFirst(5)) { return .file(fallbackCenter: c, fallbackWidth: w) }
    if t.hasPrefix("p"), let (a, b) = pair(t.dropFirst()), a >= 0, b <= 100, a < b {
      return .percentile(low: a, high: b)
    }
    if let (c, w) = pair(Substring(t)), w > 0 { return .fixed(center: c, width: w) }
    throw DatasetsError.invalidSpec(
      path: "--window", cause: "'\(text)' is not file, file:C,W, C,W or pLOW,HIGH")
  }
}

