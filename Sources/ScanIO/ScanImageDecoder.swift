#if canImport(Glibc)
  import Glibc
#endif

/// Turns an opened DICOM file into a `ScanImage`: validates the pixel module, decodes the
/// pixel data (DCMTK for everything it knows, OpenJPEG for JPEG 2000), checks the length,
/// converts colour to interleaved RGB and reads the LUTs and metadata.
enum ScanImageDecoder {
  /// JPEG 2000 (lossless, lossy) and High-Throughput JPEG 2000: decoded with OpenJPEG.
  static let jpeg2000Syntaxes: Set<String> = [
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",
  ]
  static let jpegLSSyntaxes: Set<String> = ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"]

  static func decode(path: String) throws -> ScanImage {
    try checkReadable(path)
    let file = try DicomFile(path: path)
    return try decode(file)
  }

  /// Refuses directories, missing and empty files before DCMTK sees them.
  static func checkReadable(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0 else {
      throw ScanIOError.io(path: path, cause: String(cString: strerror(errno)))
    }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      throw ScanIOError.io(path: path, cause: "is a directory; pass --recursive to scan it")
    }
    if info.st_size == 0 { throw ScanIOError.notDICOM(path: path, cause: "the file is empty") }
  }

  /// Why an object without Pixel Data is not an image, for the skip message.
  static func nonImageReason(_ file: DicomFile) -> String? {
    if file.contains(DicomTag(0x0004, 0x1220)) { return "DICOMDIR (media directory)" }
    let sopClass = file.string(.sopClassUID) ?? ""
    let modality = file.string(.modality) ?? ""
    if sopClass.hasPrefix("1.2.840.10008.5.1.4.1.1.88.") || modality == "SR" {
      return "structured report"
    }
    if sopClass.hasPrefix("1.2.840.10008.5.1.4.1.1.9.") { return "waveform" }
    if sopClass.hasPrefix("1.2.840.10008.5.1.4.1.1.481.") || modality.hasPrefix("RT") {
      return "radiotherapy object (\(modality.isEmpty ? "RT" : modality))"
    }
    if sopClass.hasPrefix("1.2.840.10008.5.1.4.1.1.104.") { return "encapsulated document" }
    if sopClass == "1.2.840.10008.5.1.4.1.1.66" { return "raw data" }
    if modality == "PR" || sopClass.hasPrefix("1.2.840.10008.5.1.4.1.1.11.") {
      return "presentation state"
    }
    return nil
  }

  static func decode(_ file: DicomFile) throws -> ScanImage {
    let path = file.path
    guard file.contains(.pixelData) else {
      if file.contains(.floatPixelData) || file.contains(.doubleFloatPixelData) {
        throw ScanIOError.unsupportedPixelFormat(
          path: path, cause: "Float/Double Float Pixel Data is not supported")
      }
      if let reason = nonImageReason(file) {
        throw ScanIOError.notAnImage(path: path, reason: reason)
      }
      throw ScanIOError.noPixelData(path: path)
    }
    func required(_ tag: DicomTag, _ name: String) throws -> Int {
      guard let value = file.int(tag), value >= 0 else {
        throw ScanIOError.missingAttribute(path: path, attribute: "\(name) \(tag)")
      }
      return value
    }
    let rows = try required(.rows, "Rows")
    let columns = try required(.columns, "Columns")
    let bitsAllocated = try required(.bitsAllocated, "BitsAllocated")
    guard rows > 0, columns > 0 else {
      throw ScanIOError.unsupportedPixelFormat(
        path: path, cause: "image is \(rows)x\(columns) pixels")
    }
    let samplesPerPixel = file.int(.samplesPerPixel) ?? 1
    let bitsStored = file.int(.bitsStored) ?? bitsAllocated
    let pixelRepresentation = file.int(.pixelRepresentation) ?? 0
    let frames = max(file.int(.numberOfFrames) ?? 1, 1)
    guard let photometricText = file.string(.photometricInterpretation)?.trimmingSpaces(),
      !photometricText.isEmpty
    else {
      throw ScanIOError.missingAttribute(
        path: path, attribute: "PhotometricInterpretation \(DicomTag.photometricInterpretation)")
    }
    guard let photometric = Photometric(rawValue: photometricText) else {
      throw ScanIOError.unsupportedPixelFormat(
        path: path, cause: "photometric interpretation '\(photometricText)'")
    }
    guard [1, 8, 16, 32].contains(bitsAllocated), (1...bitsAllocated).contains(bitsStored) else {
      throw ScanIOError.unsupportedPixelFormat(
        path: path, cause: "BitsAllocated \(bitsAllocated) with BitsStored \(bitsStored)")
    }
    guard samplesPerPixel == 1 || samplesPerPixel == 3,
      photometric.isMonochrome == (samplesPerPixel == 1) || photometric == .paletteColor
    else {
      throw ScanIOError.unsupportedPixelFormat(
        path: path, cause: "\(samplesPerPixel) samples per pixel with \(photometricText)")
    }
    if photometric == .ybrPartial420 {
      throw ScanIOError.unsupportedPixelFormat(path: path, cause: "YBR_PARTIAL_420 (MPEG) data")
    }

    let syntax = file.transferSyntaxUID
    let info = file.transferSyntaxInfo
    var layout = PixelLayout(
      rows: rows, columns: columns, frames: frames, samplesPerPixel: samplesPerPixel,
      bitsAllocated: bitsAllocated, bitsStored: bitsStored, signed: pixelRepresentation == 1,
      photometric: photometric, planar: file.int(.planarConfiguration) ?? 0,
      shift: bitsAllocated - bitsStored)

    var bytes: [UInt8]
    if jpeg2000Syntaxes.contains(syntax) {
      let decoded = try JPEG2000Frames.decode(file: file, layout: layout)
      bytes = decoded.bytes
      layout.shift = decoded.shift
      layout.planar = 0
      if photometric == .ybrICT || photometric == .ybrRCT { layout.photometric = .rgb }
    } else {
      guard info.known, syntax.isEmpty || DicomFile.isKnownSyntax(syntax) else {
        throw ScanIOError.unsupportedTransferSyntax(
          uid: syntax, name: "unknown transfer syntax", path: path)
      }
      bytes = try file.withPixelBytes { raw in [UInt8](raw) }
      if info.encapsulated {
        // DCMTK's decoders may convert colour (JPEG YCbCr -> RGB) and planar configuration.
        if let after = file.string(.photometricInterpretation)?.trimmingSpaces(),
          let p = Photometric(rawValue: after)
        {
          layout.photometric = p
        }
        layout.planar = file.int(.planarConfiguration) ?? 0
      }
      if bitsAllocated == 32 && file.isBigEndian { swapHalfWords(&bytes) }
    }
    let samples = try PixelUnpacker.unpack(bytes, layout: layout, file: file)

    // Modality LUT: the sequence wins, else rescale when both attributes are present.
    var modalityLUT = ModalityLUT.identity
    if photometric.isMonochrome {
      if file.itemCount(.modalityLUTSequence) > 0,
        let table = lookupTable(file, sequence: .modalityLUTSequence)
      {
        modalityLUT = .table(table)
      } else if let slope = file.number(.rescaleSlope),
        let intercept = file.number(.rescaleIntercept)
      {
        modalityLUT = .rescale(slope: slope, intercept: intercept)
      }
    }
    let centers = file.numbers(.windowCenter)
    let widths = file.numbers(.windowWidth)
    let windows = zip(centers, widths).map { VOIWindow(center: $0, width: $1) }
    let voiLUT =
      file.itemCount(.voiLUTSequence) > 0 ? lookupTable(file, sequence: .voiLUTSequence) : nil
    let function =
      file.string(.voiLUTFunction).map { $0.trimmingSpaces() }.flatMap(VOIFunction.init) ?? .linear

    return ScanImage(
      path: path, rows: rows, columns: columns, frames: frames,
      samplesPerPixel: samples.isColor ? 3 : 1, photometric: photometric,
      bitsAllocated: bitsAllocated, bitsStored: bitsStored,
      pixelRepresentation: pixelRepresentation, transferSyntaxUID: syntax,
      modalityLUT: modalityLUT, fileWindows: windows, voiLUT: voiLUT, voiFunction: function,
      metadata: ScanMetadata(file: file), samples: samples.buffer)
  }

  /// A LUT from the first item of `sequence` (LUT Descriptor + LUT Data).
  static func lookupTable(_ file: DicomFile, sequence: DicomTag) -> LookupTable? {
    let descriptor = file.numbers(.lutDescriptor, in: sequence)
    guard descriptor.count == 3, let words = file.words(.lutData, in: sequence), !words.isEmpty
    else { return nil }
    // 0 entries means 65536; an SS-encoded descriptor (signed first mapped value) turns
    // counts above 32767 negative, which pydicom corrects the same way.
    var count = Int(descriptor[0])
    if count <= 0 { count += 65536 }
    let bits = Int(descriptor[2])
    var entries: [Float]
    if bits <= 8 && words.count * 2 >= count && words.count < count {
      // 8-bit entries packed two per word.
      let bytes = words.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
      entries = bytes.prefix(count).map { Float($0) }
    } else {
      entries = words.prefix(count).map { Float(bits <= 8 ? $0 & 0xFF : $0) }
    }
    if entries.isEmpty { return nil }
    return LookupTable(firstMapped: Int(descriptor[1]), bitsPerEntry: bits, entries: entries)
  }

  /// 32-bit samples from a big-endian file: DCMTK swapped them as 16-bit words; swap halves.
  static func swapHalfWords(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
      let words = raw.bindMemory(to: UInt32.self)
      for i in words.indices { words[i] = (words[i] << 16) | (words[i] >> 16) }
    }
  }
}

/// The pixel module as the decoder sees it.
struct PixelLayout {
  var rows: Int
  var columns: Int
  var frames: Int
  var samplesPerPixel: Int
  var bitsAllocated: Int
  var bitsStored: Int
  var signed: Bool
  var photometric: Photometric
  var planar: Int
  /// Unused-bit correction to apply (0 = none).
  var shift: Int

  var pixelsPerFrame: Int { rows * columns }
}
