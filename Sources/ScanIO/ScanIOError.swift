import CDCMTK

/// Everything that can go wrong reading or writing a scan, with the file and the cause.
///
/// `code` is stable (other tools match on it in `--json` output); `description` is one line
/// naming the file, the reason and, where known, the fix. No patient-identifying value is
/// ever part of a message.
public enum ScanIOError: Error, CustomStringConvertible, Equatable {
  /// The file is not DICOM (no preamble and no parse) or is empty.
  case notDICOM(path: String, cause: String)
  /// The file ends early, or its pixel data is shorter than the header declares.
  case truncated(path: String, cause: String)
  /// The file cannot be read (permissions, missing, a directory).
  case io(path: String, cause: String)
  /// A required attribute is absent or invalid.
  case missingAttribute(path: String, attribute: String)
  /// The transfer syntax cannot be decoded.
  case unsupportedTransferSyntax(uid: String, name: String, path: String)
  /// The object has no Pixel Data.
  case noPixelData(path: String)
  /// The object is not an image (SR, RT plan, waveform, DICOMDIR); skipped with this reason.
  case notAnImage(path: String, reason: String)
  /// The pixel layout (bits, samples, photometric) is not one ScanIO decodes.
  case unsupportedPixelFormat(path: String, cause: String)
  /// A codec failed on the pixel data.
  case decodeFailed(path: String, cause: String)
  /// A directory holds no readable DICOM image.
  case noImages(directory: String, skipped: Int)
  /// A caller passed an invalid value (bad frame index, bad image spec).
  case invalidArgument(path: String, cause: String)
  /// libpng failed.
  case png(path: String, cause: String)
  /// libjpeg failed: not a JPEG, truncated or corrupt data (warnings count as failures).
  case jpeg(path: String, cause: String)
  /// An image was expected but the file is neither PNG nor JPEG (by its first bytes).
  case notRasterImage(path: String)
  /// DCMTK failed internally (exception caught in the shim).
  case `internal`(path: String, cause: String)

  /// A stable machine-readable code (used in `--json` output).
  public var code: String {
    switch self {
    case .notDICOM: return "notDICOM"
    case .truncated: return "truncated"
    case .io: return "io"
    case .missingAttribute: return "missingAttribute"
    case .unsupportedTransferSyntax: return "unsupportedTransferSyntax"
    case .noPixelData: return "noPixelData"
    case .notAnImage: return "notAnImage"
    case .unsupportedPixelFormat: return "unsupportedPixelFormat"
    case .decodeFailed: return "decodeFailed"
    case .noImages: return "noImages"
    case .invalidArgument: return "invalidArgument"
    case .png: return "png"
    case .jpeg: return "jpeg"
    case .notRasterImage: return "notRasterImage"
    case .internal: return "internal"
    }
  }

  /// One line: the file, the reason, and the fix where one is known.
  public var description: String {
    switch self {
    case .notDICOM(let path, let cause):
      return "\(path): not a DICOM file (\(cause))"
    case .truncated(let path, let cause):
      return "\(path): file is truncated (\(cause)); re-export or re-copy it"
    case .io(let path, let cause):
      return "\(path): cannot read file (\(cause))"
    case .missingAttribute(let path, let attribute):
      return "\(path): required attribute \(attribute) is missing or invalid"
    case .unsupportedTransferSyntax(let uid, let name, let path):
      return "\(path): transfer syntax \(name) (\(uid)) is not supported; convert it with "
        + "`dcmconv +te` or `dcmdjpeg`"
    case .noPixelData(let path):
      return "\(path): the file has no pixel data (not an image object)"
    case .notAnImage(let path, let reason):
      return "\(path): not an image object (\(reason)); skipped"
    case .unsupportedPixelFormat(let path, let cause):
      return "\(path): unsupported pixel format (\(cause))"
    case .decodeFailed(let path, let cause):
      return "\(path): pixel data cannot be decoded (\(cause))"
    case .noImages(let directory, let skipped):
      return "\(directory): no readable DICOM image found (\(skipped) files skipped); "
        + "check the path or pass --recursive"
    case .invalidArgument(let path, let cause):
      return "\(path): \(cause)"
    case .png(let path, let cause):
      return "\(path): PNG error (\(cause))"
    case .jpeg(let path, let cause):
      return "\(path): JPEG error (\(cause)); re-export or re-copy the image"
    case .notRasterImage(let path):
      return "\(path): neither a PNG nor a JPEG file (unrecognised first bytes); "
        + "re-export it as PNG or JPEG"
    case .internal(let path, let cause):
      return "\(path): internal DCMTK error (\(cause))"
    }
  }

  /// Maps a shim status code onto an error for `path`.
  static func from(status: Int32, path: String, message: String) -> ScanIOError {
    switch Int(status) {
    case Int(MTDCM_NOT_DICOM): return .notDICOM(path: path, cause: message)
    case Int(MTDCM_TRUNCATED): return .truncated(path: path, cause: message)
    case Int(MTDCM_MISSING_ATTRIBUTE): return .missingAttribute(path: path, attribute: message)
    case Int(MTDCM_UNSUPPORTED_SYNTAX):
      return .unsupportedTransferSyntax(uid: "", name: message, path: path)
    case Int(MTDCM_NO_PIXEL_DATA): return .noPixelData(path: path)
    case Int(MTDCM_DECODE_FAILED): return .decodeFailed(path: path, cause: message)
    case Int(MTDCM_INVALID_ARGUMENT): return .invalidArgument(path: path, cause: message)
    case Int(MTDCM_IO): return .io(path: path, cause: message)
    default: return .internal(path: path, cause: message)
    }
  }
}
