import Foundation
import Neural

/// One class prediction.
public struct ClassPrediction: Sendable, Equatable {
  /// The class index (ImageNet: 0…999).
  public var index: Int
  /// The class name, or "class N" where no name is known.
  public var label: String
  /// Softmax probability.
  public var probability: Float
}

/// ImageNet preprocessing and top-k decoding for the pretrained classifiers.
public enum ImageNetClassifier {
  /// Normalises interleaved RGB bytes (H, W, 3) in [0, 255] into `(v/255 − 0.5)/0.5`, writing
  /// image `index` of an (N, H, W, 3) batch.
  public static func normalize(rgb: [UInt8], into batch: Tensor, index: Int) {
    let size = batch.shape[1] * batch.shape[2] * batch.shape[3]
    precondition(
      rgb.count == size, "normalize needs \(size) bytes for one image, got \(rgb.count).")
    let dst = batch.data + index * size
    for i in 0..<size { dst[i] = (Float(rgb[i]) / 255 - 0.5) / 0.5 }
  }

  /// The `k` most probable classes of each row of `logits` (N, classes), best first.
  public static func top(logits: Tensor, k: Int, labels: [String] = ImageNetLabels.names)
    -> [[ClassPrediction]]
  {
    let (n, classes) = (logits.shape[0], logits.shape[1])
    return (0..<n).map { row in
      let z = Array(UnsafeBufferPointer(start: logits.data + row * classes, count: classes))
      let m = z.max() ?? 0
      let e = z.map { Foundation.exp(Double($0 - m)) }
      let total = e.reduce(0, +)
      return (0..<classes).sorted { z[$0] > z[$1] }.prefix(max(0, k)).map { i in
        ClassPrediction(
          index: i, label: i < labels.count ? labels[i] : "class \(i)",
          probability: Float(e[i] / total))
      }
    }
  }
}

// MARK: - Preprocessing

extension ImageNetClassifier {
  /// torchvision's ImageNet evaluation transform on interleaved 8-bit RGB: resize the shorter
  /// side to `resize` with PIL's antialiased bicubic (a = −0.5, support scaled when shrinking,
  /// horizontal pass then vertical, 8-bit rounding between passes), then centre-crop `crop`².
  /// Returns `crop`·`crop`·3 bytes.
  public static func preprocess(
    rgb: [UInt8], width: Int, height: Int, resize: Int = 256, crop: Int = 224
  ) throws -> [UInt8] {
    guard width > 0, height > 0, rgb.count == width * height * 3 else {
      throw BackbonesError.invalidArgument(
        name: "image", reason: "needs \(width)×\(height)×3 bytes, got \(rgb.count)")
    }
    let (newWidth, newHeight) =
      width < height
      ? (resize, Int(Double(resize) * Double(height) / Double(width)))
      : (Int(Double(resize) * Double(width) / Double(height)), resize)
    guard newWidth >= crop, newHeight >= crop else {
      throw BackbonesError.invalidArgument(
        name: "crop", reason: "\(crop) exceeds the resized image")
    }
    let horizontal = resample(
      rgb, width: width, height: height, newSize: newWidth, horizontal: true)
    let resized = resample(
      horizontal, width: newWidth, height: height, newSize: newHeight, horizontal: false)
    let top = Int((Double(newHeight - crop) / 2).rounded(.toNearestOrEven))
    let left = Int((Double(newWidth - crop) / 2).rounded(.toNearestOrEven))
    var out = [UInt8](repeating: 0, count: crop * crop * 3)
    for y in 0..<crop {
      let src = ((top + y) * newWidth + left) * 3
      for k in 0..<(crop * 3) { out[y * crop * 3 + k] = resized[src + k] }
    }
    return out
  }

  /// PIL's bicubic kernel (a = −0.5).
  private static func bicubic(_ t: Double) -> Double {
    let a = -0.5
    let x = abs(t)
    if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
    if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
    return 0
  }

  /// One separable pass of PIL's `ImagingResample` along x (`horizontal`) or y.
  private static func resample(
    _ src: [UInt8], width: Int, height: Int, newSize: Int, horizontal: Bool
  ) -> [UInt8] {
    let inSize = horizontal ? width : height
    let scale = Double(inSize) / Double(newSize)
    let filterScale = max(scale, 1)
    let support = 2 * filterScale
    var bounds: [(start: Int, weights: [Double])] = []
    for i in 0..<newSize {
      let center = (Double(i) + 0.5) * scale
      let lo = max(Int(center - support + 0.5), 0)
      let hi = min(Int(center + support + 0.5), inSize)
      var w = (lo..<hi).map { bicubic((Double($0) - center + 0.5) / filterScale) }
      let total = w.reduce(0, +)
      if total != 0 { w = w.map { $0 / total } }
      bounds.append((lo, w))
    }
    let (outWidth, outHeight) = horizontal ? (newSize, height) : (width, newSize)
    var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
    for y in 0..<outHeight {
      for x in 0..<outWidth {
        let (start, weights) = horizontal ? bounds[x] : bounds[y]
        for c in 0..<3 {
          var sum = 0.0
          for (k, w) in weights.enumerated() {
            let index =
              horizontal ? (y * width + start + k) * 3 + c : ((start + k) * width + x) * 3 + c
            sum += w * Double(src[index])
          }
          out[(y * outWidth + x) * 3 + c] = UInt8(max(0, min(255, sum.rounded())))
        }
      }
    }
    return out
  }
}
