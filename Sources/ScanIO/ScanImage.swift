/// A decoded DICOM image: geometry, pixel format, metadata and the stored samples of every
/// frame, ready to be turned into modality values (`modalityFrame`) or display values
/// (`displayFrame`).
///
/// Colour images (RGB, YBR_FULL, YBR_FULL_422, PALETTE COLOR) are converted to interleaved RGB
/// on read; `photometric` keeps what the file says, `isColor` tells which path applies.
/// Modality values come from the stored values with the Modality LUT applied in floating point
/// (`stored * slope + intercept`, or the Modality LUT Sequence), exactly like pydicom's
/// `apply_modality_lut`. MONOCHROME1 is *not* inverted in modality values (they are physical
/// values); it is inverted in `displayFrame` so that higher always means brighter.
public struct ScanImage: Sendable {
  /// The file the image came from.
  public let path: String
  /// Image height in pixels.
  public let rows: Int
  /// Image width in pixels.
  public let columns: Int
  /// Number of frames (1 for single-frame objects).
  public let frames: Int
  /// Samples per pixel of the decoded values: 1 (monochrome) or 3 (RGB).
  public let samplesPerPixel: Int
  /// Photometric Interpretation as stored in the file.
  public let photometric: Photometric
  /// Bits Allocated as stored.
  public let bitsAllocated: Int
  /// Bits Stored as stored.
  public let bitsStored: Int
  /// Pixel Representation (0 unsigned, 1 signed).
  public let pixelRepresentation: Int
  /// The stored transfer syntax UID.
  public let transferSyntaxUID: String
  /// The modality transform applied by `modalityFrame`.
  public let modalityLUT: ModalityLUT
  /// Windows given in the file (WindowCenter/WindowWidth pairs), first one first.
  public let fileWindows: [VOIWindow]
  /// The first VOI LUT Sequence item, when present.
  public let voiLUT: LookupTable?
  /// VOI LUT Function (0028,1056): LINEAR (default), LINEAR_EXACT or SIGMOID.
  public let voiFunction: VOIFunction
  /// The typed metadata that defines domains and cohorts.
  public let metadata: ScanMetadata

  /// Decoded samples of all frames (host byte order, interleaved RGB for colour).
  let samples: SampleBuffer

  /// Whether values are RGB triples (H×W×3) rather than one gray value per pixel.
  public var isColor: Bool { samplesPerPixel == 3 }

  /// Values per frame: rows × columns × samplesPerPixel.
  public var valuesPerFrame: Int { rows * columns * samplesPerPixel }

  /// Reads and decodes the DICOM file at `path` (all transfer syntaxes DCMTK decodes, plus
  /// JPEG 2000 through OpenJPEG).
  public init(path: String) throws {
    self = try ScanImageDecoder.decode(path: path)
  }

  init(
    path: String, rows: Int, columns: Int, frames: Int, samplesPerPixel: Int,
    photometric: Photometric, bitsAllocated: Int, bitsStored: Int, pixelRepresentation: Int,
    transferSyntaxUID: String, modalityLUT: ModalityLUT, fileWindows: [VOIWindow],
    voiLUT: LookupTable?, voiFunction: VOIFunction, metadata: ScanMetadata, samples: SampleBuffer
  ) {
    self.path = path
    self.rows = rows
    self.columns = columns
    self.frames = frames
    self.samplesPerPixel = samplesPerPixel
    self.photometric = photometric
    self.bitsAllocated = bitsAllocated
    self.bitsStored = bitsStored
    self.pixelRepresentation = pixelRepresentation
    self.transferSyntaxUID = transferSyntaxUID
    self.modalityLUT = modalityLUT
    self.fileWindows = fileWindows
    self.voiLUT = voiLUT
    self.voiFunction = voiFunction
    self.metadata = metadata
    self.samples = samples
  }

  // MARK: - Values

  /// The modality values of frame `index` as Float32: H×W (monochrome, Modality LUT applied)
  /// or H×W×3 interleaved RGB (colour, no Modality LUT), row-major.
  public func modalityFrame(_ index: Int) -> [Float] {
    precondition(
      index >= 0 && index < frames,
      "ScanImage.modalityFrame: frame \(index) is out of range 0..<\(frames) for \(path).")
    let count = valuesPerFrame
    return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      samples.convert(
        frame: index, count: count, lut: isColor ? .identity : modalityLUT,
        into: buffer.baseAddress!)
      initialized = count
    }
  }

  /// Writes the modality values of frame `index` into `destination` (valuesPerFrame floats);
  /// the allocation-free form of `modalityFrame` for bulk decoding.
  public func modalityFrame(_ index: Int, into destination: UnsafeMutablePointer<Float>) {
    precondition(
      index >= 0 && index < frames,
      "ScanImage.modalityFrame: frame \(index) is out of range 0..<\(frames) for \(path).")
    samples.convert(
      frame: index, count: valuesPerFrame, lut: isColor ? .identity : modalityLUT,
      into: destination)
  }

  /// The stored values of frame `index` (after unused-bit correction and colour conversion),
  /// as Int32.
  public func storedFrame(_ index: Int) -> [Int32] {
    precondition(index >= 0 && index < frames, "ScanImage.storedFrame: frame out of range.")
    return samples.stored(frame: index, count: valuesPerFrame)
  }
}

/// Reads DICOM images: the module's entry points.
public enum ScanIO {
  /// Reads and decodes the DICOM file at `path`; see `ScanImage`.
  public static func read(path: String) throws -> ScanImage {
    try ScanImage(path: path)
  }

  /// Shows DCMTK's own log output on stderr (`--verbose`); it is silent by default.
  public static func setVerbose(_ verbose: Bool) {
    DicomLogging.setLevel(verbose ? 2 : 0)
  }
}
