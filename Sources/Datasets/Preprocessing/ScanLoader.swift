import Foundation
import ScanIO

/// An image decoded to modality values (HU for CT; 0...255 for PNG) plus the header values the
/// dataset layer needs.
public struct DecodedScan: Sendable {
  /// Width in pixels.
  public var width: Int
  /// Height in pixels.
  public var height: Int
  /// Modality values, row-major, one per pixel (colour images are averaged to gray).
  public var values: [Float]
  /// `MONOCHROME1`, `MONOCHROME2`, or `PNG`.
  public var photometric: String
  /// The first window in the file (center, width), if any.
  public var fileWindow: (center: Double, width: Double)?
  /// Row and column spacing in mm, if given.
  public var pixelSpacing: (row: Double, column: Double)?
  /// Bits stored (8 for PNG).
  public var bitsStored: Int
  /// The transfer syntax UID ("" for PNG).
  public var transferSyntaxUID: String
}

/// Decodes DICOM and PNG files for the dataset layer (a thin adapter over ScanIO).
public enum ScanLoader {
  /// Whether `path` names a PNG (by extension); everything else is read as DICOM.
  public static func isPNG(_ path: String) -> Bool { path.lowercased().hasSuffix(".png") }

  /// Decodes the image at `path`.
  public static func load(path: String) throws -> DecodedScan {
    if isPNG(path) {
      let image: PNGImage
      do { image = try PNGImage.read(path: path, as: .gray) } catch {
        throw DatasetsError.decode(path: path, cause: "\(error)")
      }
      return DecodedScan(
        width: image.width, height: image.height, values: image.pixels.map(Float.init),
        photometric: "PNG", fileWindow: nil, pixelSpacing: nil, bitsStored: 8,
        transferSyntaxUID: "")
    }
    let file: DicomFile
    do { file = try DicomFile(path: path) } catch {
      throw DatasetsError.decode(path: path, cause: "\(error)")
    }
    return try decode(file)
  }

  /// Decodes an opened DICOM file: stored values → modality LUT (slope/intercept).
  static func decode(_ file: DicomFile) throws -> DecodedScan {
    let path = file.path
    guard let rows = file.uint16(group: 0x0028, element: 0x0010),
      let columns = file.uint16(group: 0x0028, element: 0x0011)
    else { throw DatasetsError.decode(path: path, cause: "Rows/Columns missing") }
    let samples = Int(file.uint16(group: 0x0028, element: 0x0002) ?? 1)
    let bitsAllocated = Int(file.uint16(group: 0x0028, element: 0x0100) ?? 16)
    let bitsStored = Int(file.uint16(group: 0x0028, element: 0x0101) ?? UInt16(bitsAllocated))
    let signed = (file.uint16(group: 0x0028, element: 0x0103) ?? 0) == 1
    let photometric = file.string(group: 0x0028, element: 0x0004)?
      .trimmingCharacters(in: .whitespaces) ?? "MONOCHROME2"
    let slope = file.string(group: 0x0028, element: 0x1053).flatMap(parseDS) ?? 1
    let intercept = file.string(group: 0x0028, element: 0x1052).flatMap(parseDS) ?? 0
    let n = Int(rows) * Int(columns)
    var values = [Float](repeating: 0, count: n)
    try file.withPixelBytes { raw in
      let needed = n * samples * (bitsAllocated / 8)
      guard bitsAllocated == 8 || bitsAllocated == 16, raw.count >= needed else {
        throw DatasetsError.decode(
          path: path,
          cause: "unsupported pixel layout (BitsAllocated \(bitsAllocated), \(raw.count) bytes)")
      }
      let shift = 32 - bitsStored
      for i in 0..<n {
        var acc: Float = 0
        for s in 0..<samples {
          let k = i * samples + s
          var v: Int32
          if bitsAllocated == 16 {
            v = Int32(UInt16(raw[2 * k]) | UInt16(raw[2 * k + 1]) << 8)
          } else {
            v = Int32(raw[k])
          }
          // Keep only the stored bits; sign-extend when signed.
          v = signed ? (v << shift) >> shift : Int32(bitPattern: UInt32(bitPattern: v << shift) >> shift)
          acc += Float(v)
        }
        values[i] = acc / Float(samples)
      }
    }
    if samples == 1 && (slope != 1 || intercept != 0) {
      let s = Float(slope)
      let b = Float(intercept)
      for i in 0..<n { values[i] = values[i] * s + b }
    }
    var window: (Double, Double)?
    if let c = file.string(group: 0x0028, element: 0x1050).flatMap(parseDS),
      let w = file.string(group: 0x0028, element: 0x1051).flatMap(parseDS), w > 0
    {
      window = (c, w)
    }
    var spacing: (Double, Double)?
    if let r = file.string(group: 0x0028, element: 0x0030, index: 0).flatMap(parseDS),
      let c = file.string(group: 0x0028, element: 0x0030, index: 1).flatMap(parseDS)
    {
      spacing = (r, c)
    }
    return DecodedScan(
      width: Int(columns), height: Int(rows), values: values, photometric: photometric,
      fileWindow: window, pixelSpacing: spacing, bitsStored: bitsStored,
      transferSyntaxUID: file.transferSyntaxUID)
  }

  /// Parses a DICOM decimal string (first value of a multi-valued one).
  static func parseDS(_ s: String) -> Double? {
    let first = s.split(separator: "\\").first.map(String.init) ?? s
    return Double(first.trimmingCharacters(in: .whitespaces))
  }

  /// Reads header attributes (by keyword or "GGGG,EEEE") from a DICOM file; PNGs have none.
  public static func attributes(path: String, names: [String]) throws -> [String: String] {
    if isPNG(path) { return [:] }
    let file: DicomFile
    do { file = try DicomFile(path: path) } catch {
      throw DatasetsError.decode(path: path, cause: "\(error)")
    }
    var out: [String: String] = [:]
    for name in names {
      guard let t = ScanLoader.tag(named: name) else { continue }
      if let v = file.string(group: t.group, element: t.element) {
        out[name] = v.trimmingCharacters(in: .whitespaces)
      }
    }
    return out
  }

  /// A tag from a DICOM keyword (common ones) or "GGGG,EEEE"/"(GGGG,EEEE)"/"GGGGEEEE".
  public static func tag(named name: String) -> (group: UInt16, element: UInt16)? {
    let hex = name.filter(\.isHexDigit)
    if hex.count == 8, name.allSatisfy({ $0.isHexDigit || "(),".contains($0) }),
      let raw = UInt32(hex, radix: 16)
    {
      return (UInt16(raw >> 16), UInt16(raw & 0xFFFF))
    }
    return keywords[name]
  }

  /// Keywords `--domain-by` and labels-by-attribute understand.
  public static let keywords: [String: (group: UInt16, element: UInt16)] = [
    "SOPInstanceUID": (0x0008, 0x0018), "Modality": (0x0008, 0x0060),
    "Manufacturer": (0x0008, 0x0070), "InstitutionName": (0x0008, 0x0080),
    "StationName": (0x0008, 0x1010), "SeriesDescription": (0x0008, 0x103E),
    "ManufacturerModelName": (0x0008, 0x1090), "PatientID": (0x0010, 0x0020),
    "PatientSex": (0x0010, 0x0040), "PatientAge": (0x0010, 0x1010),
    "BodyPartExamined": (0x0018, 0x0015), "SliceThickness": (0x0018, 0x0050),
    "KVP": (0x0018, 0x0060), "DeviceSerialNumber": (0x0018, 0x1000),
    "SoftwareVersions": (0x0018, 0x1020), "Exposure": (0x0018, 0x1152),
    "ConvolutionKernel": (0x0018, 0x1210), "StudyInstanceUID": (0x0020, 0x000D),
    "SeriesInstanceUID": (0x0020, 0x000E), "InstanceNumber": (0x0020, 0x0013),
    "PhotometricInterpretation": (0x0028, 0x0004), "Rows": (0x0028, 0x0010),
    "Columns": (0x0028, 0x0011), "PixelSpacing": (0x0028, 0x0030),
    "BitsStored": (0x0028, 0x0101), "RescaleIntercept": (0x0028, 0x1052),
    "RescaleSlope": (0x0028, 0x1053), "AccessionNumber": (0x0008, 0x0050),
  ]
}
