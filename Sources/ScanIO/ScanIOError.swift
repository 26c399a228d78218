import CDCMTK

/// Everything that can go wrong reading or writing a scan, with the file and the cause.
public enum ScanIOError: Error, CustomStringConvertible, Equatable {
  case notDICOM(path: String, cause: String)
  case truncated(path: String, cause: String)
  case io(path: String, cause: String)
  case missingAttribute(path: String, attribute: String)
  case unsupportedTransferSyntax(uid: String, name: String, path: String)
  case noPixelData(path: String)
  case decodeFailed(path: String, cause: String)
  case invalidArgument(path: String, cause: String)
  case png(path: String, cause: String)
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
    case .decodeFailed: return "decodeFailed"
    case .invalidArgument: return "invalidArgument"
    case .png: return "png"
    case .internal: return "internal"
    }
  }

  public var description: String {
    switch self {
    case .notDICOM(let path, let cause):
      return "\(path): not a DICOM file (\(cause))"
    case .truncated(let path, let cause):
      return "\(path): file is truncated (\(cause)); re-export or re-copy it"
    case .io(let path, let cause):
      return "\(path): cannot read file (\(cause))"
    case .missingAttribute(let path, let attribute):
      return "\(path): required attribute \(attribute) is missing"
    case .unsupportedTransferSyntax(let uid, let name, let path):
      return "\(path): transfer syntax \(name) (\(uid)) is not supported; convert it with "
        + "`dcmconv +te` or `dcmdjpeg`"
    case .noPixelData(let path):
      return "\(path): the file has no pixel data (not an image object)"
    case .decodeFailed(let path, let cause):
      return "\(path): pixel data cannot be decoded (\(cause))"
    case .invalidArgument(let path, let cause):
      return "\(path): \(cause)"
    case .png(let path, let cause):
      return "\(path): PNG error (\(cause))"
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
