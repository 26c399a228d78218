import CPNG

/// An 8-bit image in memory (gray or RGB, interleaved, row-major), read from PNG or JPEG
/// (`RasterImage.read`) and written as PNG; see `PNGImage16`.
public struct PNGImage: Equatable, Sendable {
  /// Pixel layout.
  public enum Channels: Int, Sendable {
    case gray = 1
    case rgb = 3
  }

  public var width: Int
  public var height: Int
  public var channels: Channels
  /// `width * height * channels` samples.
  public var pixels: [UInt8]

  public init(width: Int, height: Int, channels: Channels, pixels: [UInt8]) {
    precondition(
      pixels.count == width * height * channels.rawValue,
      "PNGImage needs width*height*channels = \(width * height * channels.rawValue) samples, got \(pixels.count)."
    )
    self.width = width
    self.height = height
    self.channels = channels
    self.pixels = pixels
  }

  /// Reads a PNG file with libpng, converting any PNG to 8-bit gray or RGB.
  public static func read(path: String, as channels: Channels? = nil) throws -> PNGImage {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    guard png_image_begin_read_from_file(&image, path) != 0 else {
      throw ScanIOError.png(path: path, cause: message(of: image))
    }
    let isColor = (image.format & UInt32(PNG_FORMAT_FLAG_COLOR)) != 0
    let target = channels ?? (isColor ? .rgb : .gray)
    image.format = target == .rgb ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
    let width = Int(image.width)
    let height = Int(image.height)
    var pixels = [UInt8](repeating: 0, count: width * height * target.rawValue)
    let ok = pixels.withUnsafeMutableBytes { buffer in
      png_image_finish_read(&image, nil, buffer.baseAddress, 0, nil)
    }
    guard ok != 0 else {
      let cause = message(of: image)
      png_image_free(&image)
      throw ScanIOError.png(path: path, cause: cause)
    }
    return PNGImage(width: width, height: height, channels: target, pixels: pixels)
  }

  /// Writes the image as an 8-bit PNG with libpng.
  public func write(path: String) throws {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(width)
    image.height = UInt32(height)
    image.format = channels == .rgb ? UInt32(PNG_FORMAT_RGB) : UInt32(PNG_FORMAT_GRAY)
    let ok = pixels.withUnsafeBytes { buffer in
      png_image_write_to_file(&image, path, 0, buffer.baseAddress, 0, nil)
    }
    guard ok != 0 else {
      throw ScanIOError.png(path: path, cause: PNGImage.message(of: image))
    }
  }

  static func message(of image: png_image) -> String {
    var copy = image.message
    return withUnsafeBytes(of: &copy) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
  }
}
