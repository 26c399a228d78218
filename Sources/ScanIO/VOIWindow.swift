/// A VOI window: centre and width in modality units.
public struct VOIWindow: Sendable, Equatable, Codable {
  public var center: Double
  public var width: Double
  /// A window with the given centre and width (width is clamped to at least 1).
  public init(center: Double, width: Double) {
    self.center = center
    self.width = width
  }
}

/// VOI LUT Function (0028,1056).
public enum VOIFunction: String, Sendable, Codable {
  case linear = "LINEAR"
  case linearExact = "LINEAR_EXACT"
  case sigmoid = "SIGMOID"
}

/// How `displayFrame` chooses the intensity window.
public enum WindowChoice: Sendable, Equatable {
  /// The file's VOI LUT Sequence if present, else its first WindowCenter/Width, else min–max.
  case auto
  /// The file's first WindowCenter/Width (or VOI LUT Sequence); min–max if it has none.
  case file
  /// An explicit window in modality units.
  case explicit(VOIWindow)
  /// The frame's minimum to maximum.
  case minMax
  /// The given lower and upper percentiles of the frame (e.g. 0.5 and 99.5).
  case percentile(low: Double, high: Double)
}

extension ScanImage {
  /// Display values of frame `index` in [0, 255] (Float32): monochrome frames go through the
  /// Modality LUT, then the chosen VOI window, and MONOCHROME1 is inverted so that higher
  /// always means brighter; colour frames are scaled from their bit depth to [0, 255].
  public func displayFrame(_ index: Int, window: WindowChoice = .auto) -> [Float] {
    var values = modalityFrame(index)
    if isColor {
      let maximum: Float =
        samples.bytesPerSample == 1
        ? 255 : (photometric == .paletteColor ? 65535 : Float((1 << min(bitsStored, 16)) - 1))
      let scale = maximum > 255 ? 255 / maximum : 1
      for i in values.indices { values[i] = min(max(values[i] * scale, 0), 255) }
      return values
    }
    switch window {
    case .auto, .file:
      if let lut = voiLUT {
        let top = Float((1 << lut.bitsPerEntry) - 1)
        for i in values.indices { values[i] = lut(Int(values[i].rounded(.down))) / top * 255 }
      } else if let first = fileWindows.first, first.width > 0 {
        VOIWindowing.apply(first, function: voiFunction, to: &values)
      } else {
        VOIWindowing.applyRange(VOIWindowing.minMax(values), to: &values)
      }
    case .explicit(let w):
      VOIWindowing.apply(w, function: .linear, to: &values)
    case .minMax:
      VOIWindowing.applyRange(VOIWindowing.minMax(values), to: &values)
    case .percentile(let low, let high):
      VOIWindowing.applyRange(VOIWindowing.percentiles(values, low, high), to: &values)
    }
    if photometric == .monochrome1 {
      for i in values.indices { values[i] = 255 - values[i] }
    }
    return values
  }
}

/// The windowing arithmetic (DICOM PS3.3 C.11.2.1.2), shared by `displayFrame` (output
/// [0, 255]) and Datasets' network preprocessing (output [0, 1]): one implementation of the
/// VOI window, so an exported PNG and a network input of the same window agree.
public enum VOIWindowing {
  /// Maps modality values through window `w` with the VOI LUT Function `function` onto
  /// [0, `top`], in place. LINEAR is computed in double precision.
  public static func apply(
    _ w: VOIWindow, function: VOIFunction, to values: inout [Float], top: Float = 255
  ) {
    let c = w.center
    let width = max(w.width, 1)
    switch function {
    case .linear:
      // y = ((x − (c − 0.5)) / (w − 1) + 0.5) · top, below/above the window 0/top.
      let lo = c - 0.5 - (width - 1) / 2
      let hi = c - 0.5 + (width - 1) / 2
      let scale = Double(top) / max(width - 1, 1e-9)
      for i in values.indices {
        let x = Double(values[i])
        values[i] = x <= lo ? 0 : (x > hi ? top : min(Float((x - lo) * scale), top))
      }
    case .linearExact:
      let lo = Float(c - width / 2)
      let scale = Float(Double(top) / width)
      for i in values.indices { values[i] = min(max((values[i] - lo) * scale, 0), top) }
    case .sigmoid:
      for i in values.indices {
        values[i] = Float(Double(top) / (1 + _exp(-4 * (Double(values[i]) - c) / width)))
      }
    }
  }

  /// Maps `range.0`…`range.1` linearly onto [0, `top`] (clamped), in place; a constant range
  /// maps everything to 0.
  public static func applyRange(_ range: (Float, Float), to values: inout [Float], top: Float = 255)
  {
    let (lo, hi) = range
    let scale: Float = hi > lo ? top / (hi - lo) : 0
    for i in values.indices { values[i] = min(max((values[i] - lo) * scale, 0), top) }
  }

  /// The smallest and largest value ((0, 1) for no values).
  public static func minMax(_ values: [Float]) -> (Float, Float) {
    guard var lo = values.first else { return (0, 1) }
    var hi = lo
    for v in values {
      lo = min(lo, v)
      hi = max(hi, v)
    }
    return (lo, hi)
  }

  /// The `low` and `high` percentiles (0…100) of `values`, linearly interpolated between order
  /// statistics like NumPy's default `percentile`.
  public static func percentiles(_ values: [Float], _ low: Double, _ high: Double) -> (Float, Float)
  {
    guard !values.isEmpty else { return (0, 1) }
    let sorted = values.sorted()
    func at(_ p: Double) -> Float {
      let position = min(max(p / 100, 0), 1) * Double(sorted.count - 1)
      let i = Int(position.rounded(.down))
      let j = min(i + 1, sorted.count - 1)
      let t = Float(position - Double(i))
      return sorted[i] * (1 - t) + sorted[j] * t
    }
    return (at(low), at(high))
  }
}

#if canImport(Glibc)
  import Glibc
  @inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#else
  import Darwin
  @inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
