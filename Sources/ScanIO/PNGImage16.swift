import CPNG

/// A 16-bit PNG image in memory (gray or RGB, interleaved, row-major), read and written with
/// libpng's simplified API as linear 16-bit samples (written with gAMA 1.0, so a round trip is
/// exact; other 16-bit files are converted by libpng to linear values).
public struct PNGImage16: Equatable, Sendable {
  public var width: Int
  public var height: Int
  public var channels: PNGImage.Channels
  /// `width * height * channels` samples.
  public var pixels: [UInt16]

  /// An image from its samples.
  public init(width: Int, height: Int, channels: PNGImage.Channels, pixels: [UInt16]) {
    precondition(
      pixels.count == width * height * channels.rawValue,
      "PNGImage16 needs width*height*channels = \(width * height * channels.rawValue) samples, "
        + "got \(pixels.count).")
    self.width = width
    self.height = height
    self.channels = channels
    self.pixels = pixels
  }

  private static func format(_ channels: PNGImage.Channels) -> UInt32 {
    let linear = UInt32(PNG_FORMAT_FLAG_LINEAR)
    return channels == .rgb ? UInt32(PNG_FORMAT_RGB) | linear : UInt32(PNG_FORMAT_GRAY) | linear
  }

  /// Reads any PNG as 16-bit gray or RGB.
  public static func read(path: String, as channels: PNGImage.Channels? = nil) throws
    -> PNGImage16
  {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    guard png_image_begin_read_from_file(&image, path) != 0 else {
      throw ScanIOError.png(path: path, cause: PNGImage.message(of: image))
    }
    let isColor = (image.format & UInt32(PNG_FORMAT_FLAG_COLOR)) != 0
    let target = channels ?? (isColor ? .rgb : .gray)
    image.format = format(target)
    let width = Int(image.width)
    let height = Int(image.height)
    var pixels = [UInt16](repeating: 0, count: width * height * target.rawValue)
    let ok = pixels.withUnsafeMutableBytes { buffer in
      png_image_finish_read(&image, nil, buffer.baseAddress, 0, nil)
    }
    guard ok != 0 else {
      let cause = PNGImage.message(of: image)
      png_image_free(&image)
      throw ScanIOError.png(path: path, cause: cause)
    }
    return PNGImage16(width: width, height: height, channels: target, pixels: pixels)
  }

  /// Writes the image as a 16-bit PNG.
  public func write(path: String) throws {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(width)
    image.height = UInt32(height)
    image.format = PNGImage16.format(channels)
    let ok = pixels.withUnsafeBytes { buffer in
      png_image_write_to_file(&image, path, 0, buffer.baseAddress, 0, nil)
    }
    guard ok != 0 else {
      throw ScanIOError.png(path: path, cause: PNGImage.message(of: image))
    }
  }
}

extension PNGImage {
  /// An 8-bit image from display values in [0, 255] (rounded, clamped), e.g. from
  /// `ScanImage.displayFrame` or `Resampler.square`.
  public init(width: Int, height: Int, channels: Channels, displayValues: [Float]) {
    self.init(
      width: width, height: height, channels: channels,
      pixels: displayValues.map { UInt8(min(max($0.rounded(), 0), 255)) })
  }
}
