import Foundation
import ScanIO

/// One labelled image of a dataset.
public struct DatasetEntry: Codable, Hashable, Sendable {
  /// Absolute (resolved) path of the image file.
  public var path: String
  /// The path as written in the manifest (relative to its folder), used as the stable key.
  public var key: String
  /// The class label.
  public var label: String
  /// The domain (site, scanner), from a column or from header attributes; nil when unknown.
  public var domain: String?
  /// A one-way hash of the patient identifier (never the identifier itself); nil when unknown.
  public var patient: String?
  /// Where `patient` came from; nil when the patient is unknown.
  public var patientSource: PatientSource?
  /// A split given by hand in the manifest (`train`, `val`, `test`, …), if any.
  public var split: String?
  /// The source row (1-based CSV line, or position in a discovered tree).
  public var row: Int

  /// Creates an entry; a `patient` given without a source counts as given by hand (`.column`).
  public init(
    path: String, key: String, label: String, domain: String? = nil, patient: String? = nil,
    patientSource: PatientSource? = nil, split: String? = nil, row: Int
  ) {
    self.path = path
    self.key = key
    self.label = label
    self.domain = domain
    self.patient = patient
    self.patientSource = patient == nil ? nil : patientSource ?? .column
    self.split = split
    self.row = row
  }

  /// The patient key, or a per-image key when the patient is unknown (each image its own group).
  public var group: String { patient ?? "image:" + key }
}

/// Where an entry's patient key came from.
public enum PatientSource: String, Codable, Sendable {
  /// The manifest's `patient` column.
  case column
  /// The file's Patient ID (salted hash).
  case patientID
  /// The file's Study Instance UID (salted hash), because its Patient ID is empty.
  case studyInstanceUID
}

/// How many images got their patient from each source (`unknown`: each image its own group).
public struct PatientSources: Codable, Equatable, Sendable {
  /// Images whose patient is the manifest's `patient` column.
  public var column = 0
  /// Images grouped by their Patient ID.
  public var patientID = 0
  /// Images with an empty Patient ID, grouped by their Study Instance UID instead.
  public var studyInstanceUID = 0
  /// Images whose patient is unknown (PNG/JPEG files without a `patient` column, or DICOM files with
  /// neither Patient ID nor Study Instance UID): split by image.
  public var unknown = 0

  /// Counts the sources of `entries`.
  public init(_ entries: [DatasetEntry]) {
    for e in entries {
      switch e.patient == nil ? nil : e.patientSource ?? .column {
      case .column: column += 1
      case .patientID: patientID += 1
      case .studyInstanceUID: studyInstanceUID += 1
      case nil: unknown += 1
      }
    }
  }
}

/// A loaded dataset: valid entries, the class list, and the rows that were skipped.
public struct Dataset: Sendable {
  /// Where it was loaded from (a CSV file or a folder).
  public var source: String
  /// The valid entries in source order.
  public var entries: [DatasetEntry]
  /// Class names in index order (sorted unless given explicitly).
  public var labels: [String]
  /// Rows rejected under `--on-bad skip`.
  public var skipped: [BadRow]

  public init(source: String, entries: [DatasetEntry], labels: [String], skipped: [BadRow] = []) {
    self.source = source
    self.entries = entries
    self.labels = labels
    self.skipped = skipped
  }

  /// The class index of each entry.
  public var labelIndices: [Int] {
    let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    return entries.map { index[$0.label]! }
  }

  /// Distinct domains in first-seen order ("-" for entries without one).
  public var domains: [String] {
    var seen = Set<String>()
    var out: [String] = []
    for e in entries where seen.insert(e.domain ?? "-").inserted { out.append(e.domain ?? "-") }
    return out
  }

  /// Distinct patients (each image of unknown patient counts as one).
  public var patientCount: Int { Set(entries.map(\.group)).count }

  /// Where the entries' patients came from.
  public var patientSources: PatientSources { PatientSources(entries) }

  /// One line for stderr when some images have no known patient (so splits by patient cannot
  /// keep their patient's other images out of other splits); nil when every patient is known.
  /// Every command that splits prints it once per dataset.
  public var patientWarning: String? {
    let unknown = patientSources.unknown
    guard unknown > 0 else { return nil }
    return "\(source): patients unknown for \(unknown) of \(entries.count) images (no patient "
      + "column, and no PatientID or StudyInstanceUID in the file, as with PNG or JPEG), so they are "
      + "split by image and one patient's images may land in two splits; add a patient column "
      + "to the manifest to fix it"
  }

  /// The entries of one domain.
  public func filtered(domain: String) -> Dataset {
    var d = self
    d.entries = entries.filter { ($0.domain ?? "-") == domain }
    return d
  }
}

/// How to treat bad rows.
public enum OnBad: String, Codable, Sendable, CaseIterable {
  /// Stop with an error listing every bad row (default).
  case fail
  /// Drop bad rows and list them in `Dataset.skipped`.
  case skip
}

/// How to load a dataset source.
public struct DatasetLoadOptions: Sendable {
  /// Bad-row policy.
  public var onBad: OnBad = .fail
  /// Header attributes whose values (joined by " / ") define the domain, e.g.
  /// `["Manufacturer", "ManufacturerModelName"]`. Overrides a `domain` column.
  public var domainBy: [String] = []
  /// Allowed labels; rows with other labels are bad. Nil accepts any non-empty label.
  public var labels: [String]? = nil
  /// Decode every image while loading so undecodable files become bad rows.
  public var validateImages: Bool = false
  /// For a DICOM tree: a CSV whose first column is a header attribute (`SOPInstanceUID`,
  /// `AccessionNumber`, …) and whose `label` column gives the label.
  public var labelsCSV: String? = nil

  public init(
    onBad: OnBad = .fail, domainBy: [String] = [], labels: [String]? = nil,
    validateImages: Bool = false, labelsCSV: String? = nil
  ) {
    self.onBad = onBad
    self.domainBy = domainBy
    self.labels = labels
    self.validateImages = validateImages
    self.labelsCSV = labelsCSV
  }
}

/// A one-way key for a patient identifier so that no identifier is kept, saved or printed.
///
/// The same salted SHA-256 as ScanIO's `ScanMetadata.patientHash` (salt from
/// `MEDTRANSFER_PATIENT_SALT`), so a manifest's patient column and the files' Patient ID give
/// the same key.
public func patientKey(_ identifier: String) -> String {
  patientKey(hash: ScanLoader.saltedHash(identifier))
}

/// The key for a patient hash computed by ScanIO.
func patientKey(hash: String) -> String { "p" + String(hash.prefix(16)) }

/// The key for a salted Study Instance UID hash standing in for an empty Patient ID; its own
/// prefix so that it never equals a Patient ID's key.
func studyPatientKey(hash: String) -> String { "s" + String(hash.prefix(16)) }
