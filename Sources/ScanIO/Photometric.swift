/// Photometric Interpretation (0028,0004): how stored samples map to colour.
public enum Photometric: String, Sendable, Codable, CaseIterable {
  /// Grayscale, minimum value shown white (ScanIO inverts it for display).
  case monochrome1 = "MONOCHROME1"
  /// Grayscale, minimum value shown black.
  case monochrome2 = "MONOCHROME2"
  /// Red, green, blue samples.
  case rgb = "RGB"
  /// Full-range YCbCr (converted to RGB on read).
  case ybrFull = "YBR_FULL"
  /// Full-range YCbCr with horizontally subsampled chroma (converted to RGB on read).
  case ybrFull422 = "YBR_FULL_422"
  /// YCbCr as produced by JPEG 2000's irreversible transform (decoder output is RGB).
  case ybrICT = "YBR_ICT"
  /// YCbCr as produced by JPEG 2000's reversible transform (decoder output is RGB).
  case ybrRCT = "YBR_RCT"
  /// Partial-range 4:2:0 YCbCr (MPEG); not decoded.
  case ybrPartial420 = "YBR_PARTIAL_420"
  /// Indices into the Red/Green/Blue Palette Colour LUTs (converted to RGB on read).
  case paletteColor = "PALETTE COLOR"

  /// Whether the image has one grayscale sample per pixel.
  public var isMonochrome: Bool { self == .monochrome1 || self == .monochrome2 }
}
