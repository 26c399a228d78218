import Foundation
import Interchange
import ScanIO

/// An image decoded to modality values (HU for CT; 0...255 for PNG and JPEG) plus the header
/// values the dataset layer needs.
public struct DecodedScan: Sendable {
  /// Width in pixels.
  public var width: Int
  /// Height in pixels.
  public var height: Int
  /// Modality values, row-major, one per pixel (colour DICOM images are averaged to gray; colour
  /// PNG and JPEG files get their library's gray conversion, see `RasterImage.read`).
  public var values: [Float]
  /// `MONOCHROME1`, `MONOCHROME2`, another DICOM photometric, or the picture format (`PNG`,
  /// `JPEG`; see `Preprocessing.pictureFormats`).
  public var photometric: String
  /// The first window in the file (center, width), if any.
  public var fileWindow: (center: Double, width: Double)?
  /// The file's VOI LUT Function for `fileWindow` (LINEAR unless the file says otherwise).
  public var fileWindowFunction: VOIFunction = .linear
  /// Row and column spacing in mm, if given.
  public var pixelSpacing: (row: Double, column: Double)?
  /// Bits stored (8 for PNG and JPEG).
  public var bitsStored: Int
  /// The transfer syntax UID ("" for PNG and JPEG).
  public var transferSyntaxUID: String
  /// Header values summarised per domain (Manufacturer, ConvolutionKernel, …); no patient data
  /// except PatientSex.
  public var headers: [String: String] = [:]
  /// A salted hash of the Patient ID (ScanIO's `patientHash`), if the file has one.
  public var patientHash: String? = nil

  /// Creates a decoded image from values (for tests and in-memory sources).
  public init(
    width: Int, height: Int, values: [Float], photometric: String = "MONOCHROME2",
    fileWindow: (center: Double, width: Double)? = nil,
    pixelSpacing: (row: Double, column: Double)? = nil, bitsStored: Int = 16,
    transferSyntaxUID: String = "", headers: [String: String] = [:], patientHash: String? = nil
  ) {
    precondition(values.count == width * height, "DecodedScan needs width*height values.")
    self.width = width
    self.height = height
    self.values = values
    self.photometric = photometric
    self.fileWindow = fileWindow
    self.pixelSpacing = pixelSpacing
    self.bitsStored = bitsStored
    self.transferSyntaxUID = transferSyntaxUID
    self.headers = headers
    self.patientHash = patientHash
  }
}

/// Decodes DICOM, PNG and JPEG files for the dataset layer (a thin adapter over ScanIO).
public enum ScanLoader {
  /// Whether the file at `path` is a PNG or JPEG (by its first bytes); everything else is read
  /// as DICOM.
  public static func isRasterImage(_ path: String) -> Bool {
    RasterImage.format(ofFileAt: path) != nil
  }

  /// Whether `name` ends in an image extension (.png, .jpg, .jpeg) rather than .dcm: for
  /// finding images in folders without opening every file.
  public static func hasRasterExtension(_ name: String) -> Bool {
    RasterImage.hasRasterExtension(name)
  }

  /// Decodes the image at `path` (first frame). PNG and JPEG are recognised by content; a file
  /// named like one but holding something else gets ScanIO's "neither PNG nor JPEG" error.
  public static func load(path: String) throws -> DecodedScan {
    let format = RasterImage.format(ofFileAt: path)
    if format != nil || hasRasterExtension(path) {
      let image: PNGImage
      do { image = try RasterImage.read(path: path, as: .gray) } catch {
        throw DatasetsError.decode(path: path, cause: "\(error)")
      }
      return DecodedScan(
        width: image.width, height: image.height, values: image.pixels.map(Float.init),
        photometric: (format ?? .png).rawValue, fileWindow: nil, pixelSpacing: nil,
        bitsStored: 8, transferSyntaxUID: "")
    }
    let image: ScanImage
    do { image = try ScanImage(path: path) } catch {
      throw DatasetsError.decode(path: path, cause: "\(error)")
    }
    guard image.frames >= 1 else { throw DatasetsError.decode(path: path, cause: "no frames") }
    var values = image.modalityFrame(0)
    if image.isColor {
      values = (0..<(image.rows * image.columns)).map { i in
        (values[3 * i] + values[3 * i + 1] + values[3 * i + 2]) / 3
      }
    }
    let m = image.metadata
    var headers: [String: String] = [
      "PhotometricInterpretation": image.photometric.rawValue,
      "BitsStored": String(image.bitsStored),
      "PixelRepresentation": String(image.pixelRepresentation),
    ]
    headers["Manufacturer"] = m.manufacturer
    headers["ManufacturerModelName"] = m.manufacturerModelName
    headers["ConvolutionKernel"] = m.convolutionKernel
    headers["KVP"] = m.kvp.map { String(format: "%g", $0) }
    headers["PatientSex"] = m.patientSex
    headers["Modality"] = m.modality
    headers["BodyPartExamined"] = m.bodyPartExamined
    headers["SliceThickness"] = m.sliceThickness.map { String(format: "%g", $0) }
    switch image.modalityLUT {
    case .identity: headers["ModalityLUT"] = "identity"
    case .rescale(let s, let b):
      headers["ModalityLUT"] = String(format: "slope %g, intercept %g", s, b)
    case .table: headers["ModalityLUT"] = "table"
    }
    let spacing = m.pixelSpacing.flatMap { $0.count >= 2 ? (row: $0[0], column: $0[1]) : nil }
    var scan = DecodedScan(
      width: image.columns, height: image.rows, values: values,
      photometric: image.photometric.rawValue,
      fileWindow: image.fileWindows.first.map { (center: $0.center, width: $0.width) },
      pixelSpacing: spacing, bitsStored: image.bitsStored,
      transferSyntaxUID: image.transferSyntaxUID, headers: headers, patientHash: m.patientHash)
    scan.fileWindowFunction = image.voiFunction
    return scan
  }

  /// Header values read without decoding pixels, plus the salted hashes that group images by
  /// patient. Patient name, Patient ID and Study Instance UID themselves are never returned.
  public struct Attributes: Sendable {
    /// The requested attributes that the file has (trimmed), by the name asked for.
    public var values: [String: String]
    /// Salted SHA-256 of the Patient ID (ScanIO's `patientHash`); nil when it is empty.
    public var patientHash: String?
    /// Salted SHA-256 of the Study Instance UID (same salt); nil when it is empty. Groups the
    /// images of one study where the Patient ID is empty.
    public var studyHash: String?
  }

  /// Reads header attributes (by DICOM keyword or "GGGG,EEEE") without decoding pixels; PNG
  /// and JPEG files have none. Patient name and ID are never returned (use `patientHash`).
  public static func attributes(path: String, names: [String]) throws -> Attributes {
    if isRasterImage(path) { return Attributes(values: [:], patientHash: nil, studyHash: nil) }
    let file: DicomFile
    do { file = try DicomFile(path: path, headerOnly: true) } catch {
      throw DatasetsError.decode(path: path, cause: "\(error)")
    }
    var out: [String: String] = [:]
    for name in names {
      if let v = file.value(forKeyword: name) { out[name] = v.trimmingCharacters(in: .whitespaces) }
    }
    let metadata = ScanMetadata(file: file)
    return Attributes(
      values: out, patientHash: metadata.patientHash,
      studyHash: metadata.studyInstanceUID.map { saltedHash($0) })
  }

  /// The salted SHA-256 ScanIO uses for Patient IDs (`ScanMetadata.patientHash`), for any
  /// identifier (salt from `MEDTRANSFER_PATIENT_SALT`).
  static func saltedHash(_ identifier: String) -> String {
    sha256Hex(Data((ScanMetadata.defaultSalt + identifier).utf8))
  }

  /// Whether `name` is a DICOM keyword or tag text DCMTK knows.
  public static func isKnownAttribute(_ name: String) -> Bool { DicomTag(keyword: name) != nil }
}
