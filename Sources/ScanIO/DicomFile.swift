import CDCMTK

/// A parsed DICOM file. Owns the DCMTK handle and releases it in `deinit`.
public final class DicomFile {
  private let handle: OpaquePointer
  /// The path the file was read from (used in every error message).
  public let path: String

  /// Parses the file at `path`.
  public init(path: String) throws {
    var file: OpaquePointer?
    var message = [CChar](repeating: 0, count: 1024)
    let status = mtdcm_open(path, &file, &message, message.count)
    guard status == MTDCM_OK.rawValue32, let file else {
      throw ScanIOError.from(status: status, path: path, message: String(cString: message))
    }
    self.handle = file
    self.path = path
  }

  deinit { mtdcm_close(handle) }

  /// DCMTK's version string, e.g. "3.6.7".
  public static var dcmtkVersion: String { String(cString: mtdcm_version()) }

  /// A string attribute (value `index` of a multi-valued one), or nil when absent.
  public func string(group: UInt16, element: UInt16, index: Int = 0) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let status = mtdcm_get_string(handle, group, element, UInt(index), &buffer, buffer.count)
    guard status == MTDCM_OK.rawValue32 else { return nil }
    return String(cString: buffer)
  }

  /// An unsigned 16-bit attribute, or nil when absent.
  public func uint16(group: UInt16, element: UInt16) -> UInt16? {
    var value: UInt16 = 0
    guard mtdcm_get_uint16(handle, group, element, &value) == MTDCM_OK.rawValue32 else {
      return nil
    }
    return value
  }

  /// The transfer syntax UID the file was stored with.
  public var transferSyntaxUID: String {
    var buffer = [CChar](repeating: 0, count: 128)
    _ = mtdcm_transfer_syntax(handle, &buffer, buffer.count)
    return String(cString: buffer)
  }

  /// Calls `body` with the native (decompressed, little-endian) pixel data bytes.
  public func withPixelBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    var bytes: UnsafePointer<UInt8>?
    var length = 0
    var message = [CChar](repeating: 0, count: 1024)
    let status = mtdcm_pixel_data(handle, &bytes, &length, &message, message.count)
    guard status == MTDCM_OK.rawValue32, let bytes else {
      throw ScanIOError.from(status: status, path: path, message: String(cString: message))
    }
    return try body(UnsafeRawBufferPointer(start: bytes, count: length))
  }
}

extension Int {
  // The shim's enum constants import as Int; status codes come back as Int32.
  var rawValue32: Int32 { Int32(self) }
}
