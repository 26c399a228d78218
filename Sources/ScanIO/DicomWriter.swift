import CDCMTK

/// Writes DICOM files through DCMTK.
public enum DicomWriter {
  /// Well-known transfer syntaxes the writer can encode.
  public enum TransferSyntax: String, Sendable, CaseIterable {
    case explicitLittleEndian = "1.2.840.10008.1.2.1"
    case implicitLittleEndian = "1.2.840.10008.1.2"
    case rle = "1.2.840.10008.1.2.5"
    case jpegLosslessSV1 = "1.2.840.10008.1.2.4.70"
    case jpegLSLossless = "1.2.840.10008.1.2.4.80"
  }

  /// Writes a single-frame 16-bit MONOCHROME2 image.
  ///
  /// - Parameters:
  ///   - pixels: `rows * columns` stored values, row-major.
  ///   - attributes: extra attributes as `(tag 0xGGGGEEEE, value)`.
  public static func writeMono16(
    path: String, rows: Int, columns: Int, pixels: [UInt16], signed: Bool = false,
    rescaleSlope: Double = 1, rescaleIntercept: Double = 0,
    transferSyntax: TransferSyntax = .explicitLittleEndian,
    attributes: [(tag: UInt32, value: String)] = []
  ) throws {
    guard rows > 0, columns > 0, rows <= 65535, columns <= 65535,
      pixels.count == rows * columns
    else {
      throw ScanIOError.invalidArgument(
        path: path,
        cause: "image must be 1...65535 pixels on a side with rows*columns values "
          + "(got \(rows)x\(columns), \(pixels.count) values)")
    }
    var message = [CChar](repeating: 0, count: 1024)
    let tags = attributes.map(\.tag)
    let values = attributes.map { strdup($0.value) }
    defer { values.forEach { free($0) } }
    let status = values.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer { valuePtrs in
      mtdcm_write_mono16(
        path, UInt16(rows), UInt16(columns), pixels, signed ? 1 : 0, rescaleSlope,
        rescaleIntercept, transferSyntax.rawValue, tags, valuePtrs.baseAddress, tags.count,
        &message, message.count)
    }
    guard status == MTDCM_OK.rawValue32 else {
      throw ScanIOError.from(status: status, path: path, message: String(cString: message))
    }
  }
}

#if canImport(Glibc)
  import Glibc
#endif
