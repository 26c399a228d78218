import Foundation

/// Reads 8-bit raster images — PNG (libpng) and JPEG (libjpeg-turbo) — choosing the decoder by
/// the file's first bytes, not its name.
public enum RasterImage {
  /// A raster file format ScanIO decodes.
  public enum Format: String, Sendable {
    case png = "PNG"
    case jpeg = "JPEG"
  }

  /// File name extensions (lowercase, without the dot) that announce a PNG or JPEG.
  static let fileExtensions: Set<String> = ["png", "jpg", "jpeg"]

  /// Whether `path` ends in .png, .jpg or .jpeg (any case): for finding images in folders,
  /// where opening every file would be slow.
  public static func hasRasterExtension(_ path: String) -> Bool {
    fileExtensions.contains((path as NSString).pathExtension.lowercased())
  }

  /// The format of the file at `path` from its signature (PNG: 89 50 4E 47 0D 0A 1A 0A;
  /// JPEG: FF D8 FF), or nil when it is neither or cannot be read.
  public static func format(ofFileAt path: String) -> Format? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let head = try? handle.read(upToCount: 8) else { return nil }
    return format(signature: [UInt8](head))
  }

  static func format(signature bytes: [UInt8]) -> Format? {
    if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
    if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
    return nil
  }

  /// Reads the PNG or JPEG at `path` (decided by content) as 8-bit gray or RGB; `channels` nil
  /// keeps the file's layout. Each library converts its own format: gray to RGB replicates
  /// alike, but colour to gray is libpng's linear-light luminance for PNG and libjpeg's luma
  /// (Y, BT.601 on encoded values) for JPEG, so saturated colours differ (pure red: 126 vs 76).
  public static func read(path: String, as channels: PNGImage.Channels? = nil) throws
    -> PNGImage
  {
    switch format(ofFileAt: path) {
    case .png: return try PNGImage.read(path: path, as: channels)
    case .jpeg: return try JPEGImage.read(path: path, as: channels)
    case nil:
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ScanIOError.io(path: path, cause: "no such file")
      }
      guard !isDirectory.boolValue else {
        throw ScanIOError.io(path: path, cause: "it is a directory")
      }
      guard FileManager.default.isReadableFile(atPath: path) else {
        throw ScanIOError.io(path: path, cause: "permission denied")
      }
      throw ScanIOError.notRasterImage(path: path)
    }
  }
}
