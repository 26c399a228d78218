import CDCMTK
import Foundation

/// A DICOM attribute tag (group, element), e.g. `DicomTag(0x0028, 0x0010)` for Rows.
public struct DicomTag: Hashable, Comparable, Sendable, CustomStringConvertible {
  /// The group number (first half of the tag).
  public let group: UInt16
  /// The element number (second half of the tag).
  public let element: UInt16

  /// A tag from its group and element numbers.
  public init(_ group: UInt16, _ element: UInt16) {
    self.group = group
    self.element = element
  }

  /// A tag from its 32-bit form 0xGGGGEEEE.
  public init(_ raw: UInt32) {
    self.init(UInt16(raw >> 16), UInt16(raw & 0xFFFF))
  }

  /// Looks a tag up by DICOM keyword ("PatientAge") in DCMTK's dictionary, or parses
  /// "GGGG,EEEE" / "(GGGG,EEEE)" / "GGGGEEEE". Nil when neither works.
  public init?(keyword: String) {
    let hex = keyword.filter { $0.isHexDigit }
    let stripped = keyword.trimmingCharacters(in: "() ")
    if hex.count == 8, stripped.allSatisfy({ $0.isHexDigit || $0 == "," }),
      let raw = UInt32(hex, radix: 16)
    {
      self.init(raw)
      return
    }
    guard let raw = KeywordTags.shared.tag(keyword) else { return nil }
    self.init(raw)
  }

  /// The 32-bit form 0xGGGGEEEE.
  public var raw: UInt32 { UInt32(group) << 16 | UInt32(element) }

  /// "(GGGG,EEEE)" in upper-case hex.
  public var description: String {
    "(\(hex4(group)),\(hex4(element)))"
  }

  public static func < (a: DicomTag, b: DicomTag) -> Bool { a.raw < b.raw }

  private func hex4(_ v: UInt16) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return String(repeating: "0", count: 4 - s.count) + s
  }
}

extension String {
  fileprivate func trimmingCharacters(in set: String) -> Substring {
    var s = Substring(self)
    while let f = s.first, set.contains(f) { s.removeFirst() }
    while let l = s.last, set.contains(l) { s.removeLast() }
    return s
  }
}

// MARK: - Well-known tags

extension DicomTag {
  public static let sopClassUID = DicomTag(0x0008, 0x0016)
  public static let sopInstanceUID = DicomTag(0x0008, 0x0018)
  public static let modality = DicomTag(0x0008, 0x0060)
  public static let manufacturer = DicomTag(0x0008, 0x0070)
  public static let institutionName = DicomTag(0x0008, 0x0080)
  public static let stationName = DicomTag(0x0008, 0x1010)
  public static let manufacturerModelName = DicomTag(0x0008, 0x1090)
  public static let patientName = DicomTag(0x0010, 0x0010)
  public static let patientID = DicomTag(0x0010, 0x0020)
  public static let patientSex = DicomTag(0x0010, 0x0040)
  public static let patientAge = DicomTag(0x0010, 0x1010)
  public static let bodyPartExamined = DicomTag(0x0018, 0x0015)
  public static let sliceThickness = DicomTag(0x0018, 0x0050)
  public static let kvp = DicomTag(0x0018, 0x0060)
  public static let convolutionKernel = DicomTag(0x0018, 0x1210)
  public static let studyInstanceUID = DicomTag(0x0020, 0x000D)
  public static let seriesInstanceUID = DicomTag(0x0020, 0x000E)
  public static let seriesNumber = DicomTag(0x0020, 0x0011)
  public static let instanceNumber = DicomTag(0x0020, 0x0013)
  public static let imagePositionPatient = DicomTag(0x0020, 0x0032)
  public static let imageOrientationPatient = DicomTag(0x0020, 0x0037)
  public static let samplesPerPixel = DicomTag(0x0028, 0x0002)
  public static let photometricInterpretation = DicomTag(0x0028, 0x0004)
  public static let planarConfiguration = DicomTag(0x0028, 0x0006)
  public static let numberOfFrames = DicomTag(0x0028, 0x0008)
  public static let rows = DicomTag(0x0028, 0x0010)
  public static let columns = DicomTag(0x0028, 0x0011)
  public static let pixelSpacing = DicomTag(0x0028, 0x0030)
  public static let bitsAllocated = DicomTag(0x0028, 0x0100)
  public static let bitsStored = DicomTag(0x0028, 0x0101)
  public static let highBit = DicomTag(0x0028, 0x0102)
  public static let pixelRepresentation = DicomTag(0x0028, 0x0103)
  public static let windowCenter = DicomTag(0x0028, 0x1050)
  public static let windowWidth = DicomTag(0x0028, 0x1051)
  public static let rescaleIntercept = DicomTag(0x0028, 0x1052)
  public static let rescaleSlope = DicomTag(0x0028, 0x1053)
  public static let rescaleType = DicomTag(0x0028, 0x1054)
  public static let voiLUTFunction = DicomTag(0x0028, 0x1056)
  public static let redPaletteDescriptor = DicomTag(0x0028, 0x1101)
  public static let greenPaletteDescriptor = DicomTag(0x0028, 0x1102)
  public static let bluePaletteDescriptor = DicomTag(0x0028, 0x1103)
  public static let redPaletteData = DicomTag(0x0028, 0x1201)
  public static let greenPaletteData = DicomTag(0x0028, 0x1202)
  public static let bluePaletteData = DicomTag(0x0028, 0x1203)
  public static let segmentedRedPaletteData = DicomTag(0x0028, 0x1221)
  public static let modalityLUTSequence = DicomTag(0x0028, 0x3000)
  public static let lutDescriptor = DicomTag(0x0028, 0x3002)
  public static let modalityLUTType = DicomTag(0x0028, 0x3004)
  public static let lutData = DicomTag(0x0028, 0x3006)
  public static let voiLUTSequence = DicomTag(0x0028, 0x3010)
  public static let pixelData = DicomTag(0x7FE0, 0x0010)
  public static let floatPixelData = DicomTag(0x7FE0, 0x0008)
  public static let doubleFloatPixelData = DicomTag(0x7FE0, 0x0009)
}

/// DCMTK's dictionary answers a keyword by scanning every entry with `strcmp` (about 5,000,
/// under the dictionary's lock), and data preparation asks for the same few keywords of every
/// file: at 40,000 images that scan was a quarter of the time spent before training. The
/// dictionary does not change once loaded, so each keyword's answer is kept.
private final class KeywordTags: @unchecked Sendable {
  static let shared = KeywordTags()
  private let lock = NSLock()
  private var known: [String: UInt32?] = [:]

  /// The tag DCMTK's dictionary gives `keyword`, nil when it has none.
  func tag(_ keyword: String) -> UInt32? {
    if let answer = lock.withLock({ known[keyword] }) { return answer }
    var raw: UInt32 = 0
    let answer: UInt32? = mtdcm_tag_for_keyword(keyword, &raw) == Int32(MTDCM_OK) ? raw : nil
    lock.withLock { known[keyword] = answer }
    return answer
  }
}
