import CJPEG
import Foundation

/// Reads JPEG files (baseline or progressive, 8-bit, gray or YCbCr/RGB) with libjpeg-turbo into
/// a `PNGImage`, ScanIO's 8-bit gray/RGB image; see `RasterImage` to read PNG or JPEG by content.
public enum JPEGImage {
  /// Reads the JPEG at `path`. `channels` nil keeps the file's layout (gray for a one-component
  /// file, RGB otherwise); `.gray` takes libjpeg's luma (Y) channel, `.rgb` its RGB conversion
  /// (gray replicated). Truncated or corrupt files throw instead of decoding partly.
  public static func read(path: String, as channels: PNGImage.Channels? = nil) throws
    -> PNGImage
  {
    var components = Int32(channels?.rawValue ?? 0)
    var pixels: UnsafeMutablePointer<UInt8>? = nil
    var width: Int32 = 0
    var height: Int32 = 0
    var message = [CChar](repeating: 0, count: 256)
    let status = message.withUnsafeMutableBufferPointer { buffer in
      mtjpeg_decode_file(
        path, &components, &pixels, &width, &height, buffer.baseAddress, buffer.count)
    }
    let cause = String(cString: message)
    switch Int(status) {
    case Int(MTJPEG_OK):
      break
    case Int(MTJPEG_IO):
      throw ScanIOError.io(path: path, cause: cause)
    case Int(MTJPEG_UNSUPPORTED):
      throw ScanIOError.unsupportedPixelFormat(
        path: path, cause: "JPEG in the \(cause); convert it to RGB or gray")
    default:
      throw ScanIOError.jpeg(path: path, cause: cause)
    }
    guard let pixels else { throw ScanIOError.jpeg(path: path, cause: "no pixels decoded") }
    defer { free(pixels) }
    let count = Int(width) * Int(height) * Int(components)
    return PNGImage(
      width: Int(width), height: Int(height), channels: components == 3 ? .rgb : .gray,
      pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
  }
}
