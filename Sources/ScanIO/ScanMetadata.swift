import Interchange

/// The attributes that define domains (site, scanner, protocol) and cohorts, typed.
///
/// Patient name and ID are never stored here; `patientHash` is a salted SHA-256 of the
/// Patient ID for grouping splits by patient.
public struct ScanMetadata: Sendable, Equatable, Codable {
  public var modality: String?
  public var manufacturer: String?
  public var manufacturerModelName: String?
  public var institutionName: String?
  public var stationName: String?
  /// Peak kilovoltage (0018,0060).
  public var kvp: Double?
  public var convolutionKernel: String?
  /// Slice thickness in mm.
  public var sliceThickness: Double?
  /// Row spacing, column spacing in mm.
  public var pixelSpacing: [Double]?
  public var bodyPartExamined: String?
  public var studyInstanceUID: String?
  public var seriesInstanceUID: String?
  public var sopInstanceUID: String?
  public var sopClassUID: String?
  public var patientSex: String?
  /// Patient age as stored (e.g. "045Y").
  public var patientAge: String?
  public var instanceNumber: Int?
  /// x, y, z of the first voxel in mm.
  public var imagePositionPatient: [Double]?
  /// Row and column direction cosines.
  public var imageOrientationPatient: [Double]?
  /// Hex SHA-256 of `salt + PatientID` (nil when the file has no Patient ID).
  public var patientHash: String?

  /// Empty metadata.
  public init() {}

  /// Reads the typed attributes from an opened file, hashing the Patient ID with `salt`.
  public init(file: DicomFile, salt: String = ScanMetadata.defaultSalt) {
    func text(_ tag: DicomTag) -> String? {
      guard let raw = file.rawString(tag) else { return nil }
      let trimmed = raw.trimmingSpaces()
      return trimmed.isEmpty ? nil : trimmed
    }
    modality = text(.modality)
    manufacturer = text(.manufacturer)
    manufacturerModelName = text(.manufacturerModelName)
    institutionName = text(.institutionName)
    stationName = text(.stationName)
    kvp = file.number(.kvp)
    convolutionKernel = text(.convolutionKernel)
    sliceThickness = file.number(.sliceThickness)
    let spacing = file.numbers(.pixelSpacing)
    pixelSpacing = spacing.isEmpty ? nil : spacing
    bodyPartExamined = text(.bodyPartExamined)
    studyInstanceUID = text(.studyInstanceUID)
    seriesInstanceUID = text(.seriesInstanceUID)
    sopInstanceUID = text(.sopInstanceUID)
    sopClassUID = text(.sopClassUID)
    patientSex = text(.patientSex)
    patientAge = text(.patientAge)
    instanceNumber = file.int(.instanceNumber)
    let position = file.numbers(.imagePositionPatient)
    imagePositionPatient = position.count == 3 ? position : nil
    let orientation = file.numbers(.imageOrientationPatient)
    imageOrientationPatient = orientation.count == 6 ? orientation : nil
    if let id = text(.patientID) {
      patientHash = sha256Hex(Array((salt + id).utf8))
    }
  }

  /// The salt used unless the caller gives one (set MEDTRANSFER_PATIENT_SALT per project so
  /// hashes cannot be matched across projects).
  public static var defaultSalt: String {
    if let salt = getenv("MEDTRANSFER_PATIENT_SALT") { return String(cString: salt) }
    return "medtransfer-patient-v1"
  }
}

#if canImport(Glibc)
  import Glibc
#endif

extension String {
  func trimmingSpaces() -> String {
    var s = Substring(self)
    while let f = s.first, f == " " || f == "\0" { s.removeFirst() }
    while let l = s.last, l == " " || l == "\0" { s.removeLast() }
    return String(s)
  }
}
