/// How a non-square image becomes square.
public enum SquareFit: String, Sendable, Codable {
  /// Scale the longer side to the target and pad the shorter one (centred).
  case pad
  /// Scale the shorter side to the target and cut the longer one (centred).
  case crop
}

/// Resampling of channels-last Float32 images: area averaging when shrinking, bilinear
/// (half-pixel centres, like PyTorch `align_corners=False`) when enlarging, per axis.
public enum Resampler {
  /// Resizes `values` (height × width × channels, row-major) to `newHeight × newWidth`.
  public static func resize(
    _ values: [Float], height: Int, width: Int, channels: Int = 1, newHeight: Int, newWidth: Int
  ) -> [Float] {
    precondition(
      values.count == height * width * channels,
      "Resampler.resize: \(values.count) values do not make a \(height)x\(width)x\(channels) image."
    )
    precondition(newHeight > 0 && newWidth > 0, "Resampler.resize: target size must be positive.")
    // Rows first (width changes), then columns (height changes).
    let wide = axisWeights(from: width, to: newWidth)
    var tmp = [Float](repeating: 0, count: height * newWidth * channels)
    for y in 0..<height {
      let src = y * width * channels
      let dst = y * newWidth * channels
      for (x, taps) in wide.enumerated() {
        for c in 0..<channels {
          var sum: Float = 0
          for (i, w) in taps { sum += values[src + i * channels + c] * w }
          tmp[dst + x * channels + c] = sum
        }
      }
    }
    let tall = axisWeights(from: height, to: newHeight)
    var out = [Float](repeating: 0, count: newHeight * newWidth * channels)
    let rowLength = newWidth * channels
    for (y, taps) in tall.enumerated() {
      let dst = y * rowLength
      for (i, w) in taps {
        let src = i * rowLength
        for k in 0..<rowLength { out[dst + k] += tmp[src + k] * w }
      }
    }
    return out
  }

  /// Makes a `size × size` image, preserving the aspect ratio by padding with `padValue` or
  /// centre-cropping.
  public static func square(
    _ values: [Float], height: Int, width: Int, channels: Int = 1, size: Int,
    fit: SquareFit = .pad, padValue: Float = 0
  ) -> [Float] {
    let scale =
      fit == .pad
      ? Double(size) / Double(max(height, width)) : Double(size) / Double(min(height, width))
    let h = max(1, Int((Double(height) * scale).rounded()))
    let w = max(1, Int((Double(width) * scale).rounded()))
    let resized = resize(
      values, height: height, width: width, channels: channels, newHeight: h, newWidth: w)
    var out = [Float](repeating: padValue, count: size * size * channels)
    // Offsets of the resized image inside the square (negative = cropped away).
    let top = (size - h) / 2
    let left = (size - w) / 2
    for y in 0..<size {
      let sy = y - top
      guard sy >= 0 && sy < h else { continue }
      for x in 0..<size {
        let sx = x - left
        guard sx >= 0 && sx < w else { continue }
        for c in 0..<channels {
          out[(y * size + x) * channels + c] = resized[(sy * w + sx) * channels + c]
        }
      }
    }
    return out
  }

  /// For each output index along one axis, the (input index, weight) taps.
  static func axisWeights(from n: Int, to m: Int) -> [[(Int, Float)]] {
    if n == m { return (0..<m).map { [($0, Float(1))] } }
    if m < n {
      // Area averaging: output pixel j covers input interval [j*n/m, (j+1)*n/m).
      let ratio = Double(n) / Double(m)
      return (0..<m).map { j in
        let start = Double(j) * ratio
        let end = Double(j + 1) * ratio
        var taps: [(Int, Float)] = []
        var i = Int(start.rounded(.down))
        while Double(i) < end && i < n {
          let overlap = min(end, Double(i + 1)) - max(start, Double(i))
          if overlap > 0 { taps.append((i, Float(overlap / ratio))) }
          i += 1
        }
        return taps
      }
    }
    // Bilinear with half-pixel centres, clamped at the borders.
    let ratio = Double(n) / Double(m)
    return (0..<m).map { j in
      let x = max((Double(j) + 0.5) * ratio - 0.5, 0)
      let i0 = min(Int(x.rounded(.down)), n - 1)
      let i1 = min(i0 + 1, n - 1)
      let t = Float(x - Double(i0))
      return i0 == i1 ? [(i0, Float(1))] : [(i0, 1 - t), (i1, t)]
    }
  }
}
