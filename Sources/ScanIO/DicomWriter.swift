import CDCMTK

#if canImport(Glibc)
  import Glibc
#endif

/// What `DicomWriter.write` writes: one monochrome frame of stored values plus attributes.
///
/// Everything that defines a domain (manufacturer, kernel, kVp, ...) goes into `attributes`.
/// Give `StudyInstanceUID`, `SeriesInstanceUID` and `SOPInstanceUID` to make the file
/// byte-identical across runs (DCMTK adds no timestamps); otherwise fresh UIDs are generated.
public struct DicomImageSpec: Sendable {
  /// Image height in pixels (1...65535).
  public var rows: Int
  /// Image width in pixels (1...65535).
  public var columns: Int
  /// `rows * columns` stored values, row-major, in the range BitsStored/signedness allows.
  public var storedValues: [Int32]
  /// `.monochrome1` or `.monochrome2`.
  public var photometric: Photometric = .monochrome2
  /// 8 or 16.
  public var bitsAllocated: Int = 16
  /// 1...bitsAllocated (typically 12 or 16).
  public var bitsStored: Int = 16
  /// Two's-complement stored values (PixelRepresentation 1).
  public var isSigned: Bool = false
  /// Rescale slope and intercept; nil writes no Rescale attributes.
  public var rescale: (slope: Double, intercept: Double)? = (1, 0)
  /// The encoding of the pixel data.
  public var transferSyntax: DicomWriter.TransferSyntax = .explicitLittleEndian
  /// SOP Class UID (default CT Image Storage).
  public var sopClassUID: String = "1.2.840.10008.5.1.4.1.1.2"
  /// Further attributes as DICOM strings (multi-valued ones backslash-separated), set after
  /// the defaults so they may override Modality and the UIDs.
  public var attributes: [DicomTag: String] = [:]
  /// A Modality LUT Sequence item (entries integral, 0...65535); usually with `rescale = nil`.
  public var modalityLUT: LookupTable? = nil
  /// A VOI LUT Sequence item (entries integral, 0...65535).
  public var voiLUT: LookupTable? = nil

  /// A spec with the given stored values and defaults elsewhere (16-bit unsigned MONOCHROME2,
  /// explicit VR little endian, CT, slope 1 intercept 0).
  public init(rows: Int, columns: Int, storedValues: [Int32]) {
    self.rows = rows
    self.columns = columns
    self.storedValues = storedValues
  }

  /// Sets an attribute by keyword ("ConvolutionKernel") or tag text ("0018,1210").
  public mutating func set(_ keyword: String, _ value: String) {
    guard let tag = DicomTag(keyword: keyword) else {
      preconditionFailure("DicomImageSpec.set: '\(keyword)' is not a DICOM keyword or tag.")
    }
    attributes[tag] = value
  }
}

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

  /// Writes a single-frame monochrome image described by `spec` to `path`.
  public static func write(_ spec: DicomImageSpec, to path: String) throws {
    guard spec.rows > 0, spec.columns > 0, spec.rows <= 65535, spec.columns <= 65535,
      spec.storedValues.count == spec.rows * spec.columns
    else {
      throw ScanIOError.invalidArgument(
        path: path,
        cause: "image must be 1...65535 pixels on a side with rows*columns values "
          + "(got \(spec.rows)x\(spec.columns), \(spec.storedValues.count) values)")
    }
    guard spec.bitsAllocated == 8 || spec.bitsAllocated == 16,
      (1...spec.bitsAllocated).contains(spec.bitsStored)
    else {
      throw ScanIOError.invalidArgument(
        path: path,
        cause: "bits allocated must be 8 or 16 and bits stored 1...allocated "
          + "(got \(spec.bitsAllocated)/\(spec.bitsStored))")
    }
    guard spec.photometric == .monochrome1 || spec.photometric == .monochrome2 else {
      throw ScanIOError.invalidArgument(
        path: path, cause: "the writer only writes MONOCHROME1/MONOCHROME2 images")
    }
    let lo: Int32 = spec.isSigned ? -(1 << (spec.bitsStored - 1)) : 0
    let hi: Int32 = spec.isSigned ? (1 << (spec.bitsStored - 1)) - 1 : (1 << spec.bitsStored) - 1
    if let bad = spec.storedValues.first(where: { $0 < lo || $0 > hi }) {
      throw ScanIOError.invalidArgument(
        path: path,
        cause: "stored value \(bad) outside \(lo)...\(hi) for \(spec.bitsStored) bits "
          + (spec.isSigned ? "signed" : "unsigned"))
    }
    // Two's complement in Bits Stored bits, unused high bits zero: JPEG-LS (CharLS) asserts on
    // samples wider than its precision (the shim also keeps DCMTK 3.6.7 from sign-extending
    // them before CharLS sees them), and readers sign-extend from the high bit anyway.
    let mask = UInt16(truncatingIfNeeded: (1 << spec.bitsStored) - 1)
    let words: [UInt16] = spec.storedValues.map { UInt16(truncatingIfNeeded: $0) & mask }
    let bytes: [UInt8] = spec.bitsAllocated == 8 ? words.map { UInt8(truncatingIfNeeded: $0) } : []

    for (name, table) in [("Modality LUT", spec.modalityLUT), ("VOI LUT", spec.voiLUT)] {
      guard let table else { continue }
      guard table.entries.count <= 65536, (8...16).contains(table.bitsPerEntry),
        (-32768...65535).contains(table.firstMapped),
        table.entries.allSatisfy({ $0 >= 0 && $0 <= 65535 && $0 == $0.rounded() })
      else {
        throw ScanIOError.invalidArgument(
          path: path,
          cause: "\(name): at most 65536 integral entries in 0...65535, 8...16 bits per entry "
            + "and a first mapped value in -32768...65535")
      }
    }
    let sorted = spec.attributes.sorted { $0.key < $1.key }
    let tags = sorted.map(\.key.raw)
    let values = sorted.map { strdup($0.value) }
    defer { for value in values { free(value) } }
    var message = [CChar](repeating: 0, count: 1024)
    let status: Int32 = values.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer {
      valuePointers in
      spec.photometric.rawValue.withCString { photometric in
        spec.sopClassUID.withCString { sopClass in
          spec.transferSyntax.rawValue.withCString { syntax in
            tags.withUnsafeBufferPointer { tagPointer in
              let write = { (pixels: UnsafeRawPointer) -> Int32 in
                withLUT(spec.modalityLUT) { modalityLUT in
                  withLUT(spec.voiLUT) { voiLUT in
                    var c = mtdcm_image_spec(
                      rows: UInt16(spec.rows), columns: UInt16(spec.columns),
                      bits_allocated: UInt16(spec.bitsAllocated),
                      bits_stored: UInt16(spec.bitsStored),
                      pixel_representation: spec.isSigned ? 1 : 0, photometric: photometric,
                      pixels: pixels, has_rescale: spec.rescale == nil ? 0 : 1,
                      rescale_slope: spec.rescale?.slope ?? 1,
                      rescale_intercept: spec.rescale?.intercept ?? 0, sop_class_uid: sopClass,
                      transfer_syntax_uid: syntax, attribute_tags: tagPointer.baseAddress,
                      attribute_values: valuePointers.baseAddress, attribute_count: tags.count,
                      modality_lut: modalityLUT, voi_lut: voiLUT)
                    return mtdcm_write_image(path, &c, &message, message.count)
                  }
                }
              }
              if spec.bitsAllocated == 8 {
                return bytes.withUnsafeBytes { write($0.baseAddress!) }
              }
              return words.withUnsafeBytes { write($0.baseAddress!) }
            }
          }
        }
      }
    }
    guard status == MTDCM_OK.rawValue32 else {
      throw ScanIOError.from(status: status, path: path, message: String(cString: message))
    }
  }

  /// Calls `body` with a C view of `table` (nil when there is none) valid during the call.
  private static func withLUT<R>(
    _ table: LookupTable?, _ body: (UnsafePointer<mtdcm_lut>?) -> R
  ) -> R {
    guard let table else { return body(nil) }
    let entries = table.entries.map { UInt16($0) }
    return entries.withUnsafeBufferPointer { buffer in
      var lut = mtdcm_lut(
        first_mapped: Int32(table.firstMapped), bits_per_entry: UInt16(table.bitsPerEntry),
        entries: buffer.baseAddress, count: buffer.count)
      return withUnsafePointer(to: &lut) { body($0) }
    }
  }

  /// Writes a single-frame 16-bit MONOCHROME2 image (kept for the foundation tests).
  ///
  /// - Parameters:
  ///   - pixels: `rows * columns` stored values, row-major (bit patterns when `signed`).
  ///   - attributes: extra attributes as `(tag 0xGGGGEEEE, value)`.
  public static func writeMono16(
    path: String, rows: Int, columns: Int, pixels: [UInt16], signed: Bool = false,
    rescaleSlope: Double = 1, rescaleIntercept: Double = 0,
    transferSyntax: TransferSyntax = .explicitLittleEndian,
    attributes: [(tag: UInt32, value: String)] = []
  ) throws {
    var spec = DicomImageSpec(
      rows: rows, columns: columns,
      storedValues: pixels.map { signed ? Int32(Int16(bitPattern: $0)) : Int32($0) })
    spec.isSigned = signed
    spec.rescale = (rescaleSlope, rescaleIntercept)
    spec.transferSyntax = transferSyntax
    for (tag, value) in attributes { spec.attributes[DicomTag(tag)] = value }
    try write(spec, to: path)
  }
}
