import Foundation
import ScanIO
import TestSupport
import XCTest

/// Decodes pydicom 3.0.2's bundled test files and compares the modality values with the
/// reference that `scripts/reference/pydicom_reference.py` produced with pydicom + pylibjpeg
/// (Tests/ScanIOTests/Fixtures/pydicom_reference.json). Lossless syntaxes must agree exactly
/// (YBR→RGB conversions within 1), lossy JPEG within ±5 stored units. Files pydicom cannot
/// decode must give a typed error unless listed in `decodedBeyondPydicom` with the reason.
/// The corpus comes from `scripts/bootstrap` (scripts/bootstrap.d/pydicom-testfiles.sh).
final class ConformanceTests: XCTestCase {
  /// Files pydicom 3.0.2 refuses that ScanIO decodes, and why that is right.
  static let decodedBeyondPydicom: [String: String] = [
    "JPEG-lossy.dcm": "12-bit JPEG extended; DCMTK decodes it, pydicom has no plugin for it",
    "ExplVR_BigEndNoMeta.dcm":
      "no File Meta header; DCMTK detects the encoding (pydicom needs force)",
    "ExplVR_LitEndNoMeta.dcm": "no File Meta header; DCMTK detects the encoding",
    "no_meta.dcm": "no File Meta header; DCMTK detects the encoding",
    "meta_missing_tsyntax.dcm": "no TransferSyntaxUID in the meta header; DCMTK detects it",
    "badVR.dcm": "an IS value '1A' pydicom rejects; DCMTK reads it and the pixel data is intact",
    "JPEG2000-embedded-sequence-delimiter.dcm":
      "a sequence delimiter inside a fragment; OpenJPEG decodes the codestream",
  ]

  struct Reference: Decodable {
    struct Entry: Decodable {
      var file: String
      var readable: Bool
      var pixels: Bool?
      var decoded: Bool?
      var lossy: Bool?
      var photometric: String?
      var shape: [Int]?
      var frames: Int?
      var rescaleSlope: Double?
      var min: Double?
      var max: Double?
      var mean: Double?
      var positions: [Int]?
      var samples: [Double]?
    }
    var files: [Entry]
  }

  static var corpus: URL? {
    cachedTestData("pydicom-3.0.2/test_files", override: "MEDTRANSFER_PYDICOM_FILES")
  }

  func testPydicomCorpusAgreesWithReference() throws {
    guard let corpus = Self.corpus else {
      throw XCTSkip("pydicom test files not found; run scripts/bootstrap")
    }
    let referenceURL = packageRoot.appendingPathComponent(
      "Tests/ScanIOTests/Fixtures/pydicom_reference.json")
    let reference = try JSONDecoder().decode(
      Reference.self, from: Data(contentsOf: referenceURL))
    var compared = 0
    var refused = 0
    var beyond = 0
    for entry in reference.files {
      let path = corpus.appendingPathComponent(entry.file).path
      let result = Result { try ScanIO.read(path: path) }
      if entry.decoded == true {
        guard case .success(let image) = result else {
          XCTFail("\(entry.file): pydicom decodes it, ScanIO fails: \(result)")
          continue
        }
        compare(image, entry)
        compared += 1
      } else {
        switch result {
        case .success(let image):
          if let reason = Self.decodedBeyondPydicom[entry.file] {
            XCTAssertGreaterThan(image.rows * image.columns, 0, entry.file)
            _ = reason
            beyond += 1
          } else {
            XCTFail("\(entry.file): pydicom cannot decode it but ScanIO returned an image")
          }
        case .failure(let error):
          XCTAssertTrue(error is ScanIOError, "\(entry.file): untyped error \(error)")
          refused += 1
        }
      }
    }
    print(
      "conformance: \(compared) files compared, \(refused) refused with typed errors, "
        + "\(beyond) decoded beyond pydicom")
    XCTAssertGreaterThan(compared, 60)
  }

  private func compare(_ image: ScanImage, _ entry: Reference.Entry) {
    let name = entry.file
    let shape = entry.shape ?? []
    var expectedShape = [image.rows, image.columns]
    if image.frames > 1 { expectedShape.insert(image.frames, at: 0) }
    if image.isColor { expectedShape.append(3) }
    XCTAssertEqual(expectedShape, shape, "\(name): shape")
    guard expectedShape == shape else { return }
    var values: [Float] = []
    values.reserveCapacity(image.frames * image.valuesPerFrame)
    for f in 0..<image.frames { values += image.modalityFrame(f) }
    let slope = abs(entry.rescaleSlope ?? 1)
    let ybr = ["YBR_FULL", "YBR_FULL_422"].contains(entry.photometric ?? "")
    let tolerance: Double = entry.lossy == true ? 5 * slope : (ybr ? 1 : 0)
    let lo = Double(values.min()!)
    let hi = Double(values.max()!)
    let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
    XCTAssertEqual(lo, entry.min!, accuracy: tolerance, "\(name): min")
    XCTAssertEqual(hi, entry.max!, accuracy: tolerance, "\(name): max")
    XCTAssertEqual(
      mean, entry.mean!, accuracy: max(tolerance, 1e-6 * abs(entry.mean!)), "\(name): mean")
    var worst = 0.0
    for (p, expected) in zip(entry.positions!, entry.samples!) {
      worst = max(worst, abs(Double(values[p]) - expected))
    }
    XCTAssertLessThanOrEqual(worst, tolerance, "\(name): max sample difference \(worst)")
  }
}
