import CDCMTK

#if canImport(Glibc)
  import Glibc
#endif

/// A parsed DICOM file: the low-level attribute view over DCMTK. Owns the DCMTK handle and
/// releases it in `deinit`. Most callers want `ScanImage` instead.
public final class DicomFile {
  let handle: OpaquePointer
  /// The path the file was read from (used in every error message).
  public let path: String

  /// Parses the file at `path`. With `headerOnly`, values over 4 KiB (pixel data) are read
  /// lazily, which makes directory scans fast.
  public init(path: String, headerOnly: Bool = false) throws {
    var file: OpaquePointer?
    var message = [CChar](repeating: 0, count: 1024)
    let status =
      headerOnly
      ? mtdcm_open_header(path, &file, &message, message.count)
      : mtdcm_open(path, &file, &message, message.count)
    guard status == MTDCM_OK.rawValue32, let file else {
      let error = ScanIOError.from(status: status, path: path, message: String(cString: message))
      // A short non-DICOM file "ends early" for DCMTK's parser; without the DICM preamble
      // it is not DICOM rather than truncated.
      if error.code == "truncated" && !DicomFile.hasPreamble(path) {
        throw ScanIOError.notDICOM(
          path: path, cause: "no DICM preamble and no parseable dataset")
      }
      throw error
    }
    self.handle = file
    self.path = path
  }

  deinit { mtdcm_close(handle) }

  /// Whether bytes 128..<132 of the file are "DICM".
  static func hasPreamble(_ path: String) -> Bool {
    guard let f = fopen(path, "rb") else { return false }
    defer { fclose(f) }
    var bytes = [UInt8](repeating: 0, count: 132)
    guard fread(&bytes, 1, 132, f) == 132 else { return false }
    return bytes[128..<132].elementsEqual(Array("DICM".utf8))
  }

  /// DCMTK's version string, e.g. "3.6.7".
  public static var dcmtkVersion: String { String(cString: mtdcm_version()) }

  // MARK: - Attributes

  /// A string attribute (value `index` of a multi-valued one), or nil when absent.
  public func string(_ tag: DicomTag, index: Int = 0, in sequence: DicomTag? = nil, item: Int = 0)
    -> String?
  {
    var buffer = [CChar](repeating: 0, count: 1024)
    let status = mtdcm_get_string(
      handle, sequence?.raw ?? 0, UInt(item), tag.raw, UInt(index), &buffer, buffer.count)
    guard status == MTDCM_OK.rawValue32 else { return nil }
    return String(cString: buffer)
  }

  /// A string attribute (value `index`), addressed by group and element.
  public func string(group: UInt16, element: UInt16, index: Int = 0) -> String? {
    string(DicomTag(group, element), index: index)
  }

  /// All values of an attribute as one string, backslash-separated as stored, or nil.
  public func rawString(_ tag: DicomTag, in sequence: DicomTag? = nil, item: Int = 0) -> String? {
    var buffer = [CChar](repeating: 0, count: 65536)
    let status = mtdcm_get_string_all(
      handle, sequence?.raw ?? 0, UInt(item), tag.raw, &buffer, buffer.count)
    guard status == MTDCM_OK.rawValue32 else { return nil }
    return String(cString: buffer)
  }

  /// Value `index` of a numeric attribute (US, SS, UL, SL, FL, FD, DS, IS), or nil.
  public func number(_ tag: DicomTag, index: Int = 0, in sequence: DicomTag? = nil, item: Int = 0)
    -> Double?
  {
    var value = 0.0
    let status = mtdcm_get_number(
      handle, sequence?.raw ?? 0, UInt(item), tag.raw, UInt(index), &value)
    return status == MTDCM_OK.rawValue32 ? value : nil
  }

  /// All values of a numeric attribute (empty when absent).
  public func numbers(_ tag: DicomTag, in sequence: DicomTag? = nil, item: Int = 0) -> [Double] {
    let count = valueCount(tag, in: sequence, item: item)
    return (0..<count).compactMap { number(tag, index: $0, in: sequence, item: item) }
  }

  /// An unsigned 16-bit attribute, or nil when absent.
  public func uint16(group: UInt16, element: UInt16) -> UInt16? {
    number(DicomTag(group, element)).flatMap { UInt16(exactly: $0) }
  }

  /// An integer attribute, or nil when absent or not integral.
  public func int(_ tag: DicomTag, index: Int = 0) -> Int? {
    number(tag, index: index).flatMap { $0.isFinite ? Int(exactly: $0.rounded()) : nil }
  }

  /// The value multiplicity of an attribute (0 when absent).
  public func valueCount(_ tag: DicomTag, in sequence: DicomTag? = nil, item: Int = 0) -> Int {
    Int(mtdcm_value_count(handle, sequence?.raw ?? 0, UInt(item), tag.raw))
  }

  /// The number of items in a top-level sequence (0 when absent).
  public func itemCount(_ sequence: DicomTag) -> Int {
    Int(mtdcm_item_count(handle, sequence.raw))
  }

  /// Whether a top-level attribute is present.
  public func contains(_ tag: DicomTag) -> Bool { mtdcm_has_tag(handle, tag.raw) != 0 }

  /// The 16-bit words of a US, SS or OW attribute (host byte order), or nil.
  public func words(_ tag: DicomTag, in sequence: DicomTag? = nil, item: Int = 0) -> [UInt16]? {
    var pointer: UnsafePointer<UInt16>?
    var count = 0
    let status = mtdcm_get_words(handle, sequence?.raw ?? 0, UInt(item), tag.raw, &pointer, &count)
    guard status == MTDCM_OK.rawValue32 else { return nil }
    guard let pointer, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
  }

  /// A generic accessor by keyword ("PatientAge") or tag text ("0010,1010"): all values as
  /// stored, backslash-separated. Patient name and ID are refused (nil) to keep them out of
  /// every output; use `ScanMetadata.patientHash` instead.
  public func value(forKeyword keyword: String) -> String? {
    guard let tag = DicomTag(keyword: keyword), tag != .patientName, tag != .patientID else {
      return nil
    }
    return rawString(tag)
  }

  // MARK: - Transfer syntax and pixel data

  /// The transfer syntax UID the file was stored with.
  public var transferSyntaxUID: String {
    var buffer = [CChar](repeating: 0, count: 128)
    _ = mtdcm_transfer_syntax(handle, &buffer, buffer.count)
    return String(cString: buffer)
  }

  /// Whether the stored syntax is encapsulated, whether DCMTK knows it, and its name.
  var transferSyntaxInfo: (encapsulated: Bool, known: Bool, name: String) {
    var encapsulated: Int32 = 0
    var known: Int32 = 0
    var buffer = [CChar](repeating: 0, count: 256)
    _ = mtdcm_transfer_syntax_info(handle, &encapsulated, &known, &buffer, buffer.count)
    return (encapsulated != 0, known != 0, String(cString: buffer))
  }

  /// Whether DCMTK knows the transfer syntax with this UID.
  static func isKnownSyntax(_ uid: String) -> Bool { mtdcm_syntax_is_known(uid) != 0 }

  /// Whether the stored syntax is big endian.
  var isBigEndian: Bool { mtdcm_is_big_endian(handle) != 0 }

  /// Calls `body` with the native (decompressed, host-order) pixel data bytes.
  public func withPixelBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    var bytes: UnsafePointer<UInt8>?
    var length = 0
    var message = [CChar](repeating: 0, count: 1024)
    let status = mtdcm_pixel_data(handle, &bytes, &length, &message, message.count)
    guard status == MTDCM_OK.rawValue32, let bytes else {
      let text = String(cString: message)
      if status == MTDCM_UNSUPPORTED_SYNTAX.rawValue32 {
        throw ScanIOError.unsupportedTransferSyntax(
          uid: transferSyntaxUID, name: transferSyntaxInfo.name, path: path)
      }
      throw ScanIOError.from(status: status, path: path, message: text)
    }
    return try body(UnsafeRawBufferPointer(start: bytes, count: length))
  }

  /// The encapsulated items: the Basic Offset Table first, then every fragment (copied).
  func encapsulatedItems() throws -> [[UInt8]] {
    var count = 0
    var message = [CChar](repeating: 0, count: 1024)
    let status = mtdcm_fragment_count(handle, &count, &message, message.count)
    guard status == MTDCM_OK.rawValue32 else {
      throw ScanIOError.from(status: status, path: path, message: String(cString: message))
    }
    var items: [[UInt8]] = []
    items.reserveCapacity(count)
    for i in 0..<count {
      var bytes: UnsafePointer<UInt8>?
      var length = 0
      let itemStatus = mtdcm_fragment(handle, i, &bytes, &length)
      guard itemStatus == MTDCM_OK.rawValue32 else {
        throw ScanIOError.decodeFailed(path: path, cause: "cannot read pixel data fragment \(i)")
      }
      if let bytes, length > 0 {
        items.append(Array(UnsafeBufferPointer(start: bytes, count: length)))
      } else {
        items.append([])
      }
    }
    return items
  }
}

extension Int {
  // The shim's enum constants import as Int; status codes come back as Int32.
  var rawValue32: Int32 { Int32(self) }
}
