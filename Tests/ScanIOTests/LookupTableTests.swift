import Foundation
import ScanIO
import TestSupport
import XCTest

/// Modality LUT Sequence and VOI LUT Sequence, end to end: each case of
/// Tests/ScanIOTests/Fixtures/lut_reference.json (written by scripts/reference/lut_reference.py
/// with pydicom's `apply_modality_lut` / `apply_voi_lut`) is written with DCMTK through
/// `DicomWriter`, decoded by ScanIO and compared with pydicom's values and with the closed form
/// `entries[clamp(value - firstMapped, 0, count - 1)]`.
final class LookupTableTests: XCTestCase {
  struct Reference: Decodable {
    struct Table: Decodable {
      var firstMapped: Int
      var bits: Int
      var entries: [Float]
    }
    struct Case: Decodable {
      var name: String
      var kind: String
      var stored: [Int32]
      var bitsStored: Int
      var signed: Bool
      var rescale: [Double]?
      var lut: Table
      var expected: [Double]
    }
    var cases: [Case]
  }

  /// The closed form both LUT sequences follow (DICOM PS3.3 C.11.1.1, C.11.2.1.1).
  static func closedForm(_ table: Reference.Table, _ value: Int) -> Float {
    let index = min(max(value - table.firstMapped, 0), table.entries.count - 1)
    return table.entries[index]
  }

  func testLookupTableSequencesMatchPydicomAndTheClosedForm() throws {
    let url = packageRoot.appendingPathComponent("Tests/ScanIOTests/Fixtures/lut_reference.json")
    let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    XCTAssertEqual(reference.cases.count, 3)
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    for c in reference.cases {
      var spec = DicomImageSpec(rows: 1, columns: c.stored.count, storedValues: c.stored)
      spec.bitsStored = c.bitsStored
      spec.isSigned = c.signed
      let table = LookupTable(
        firstMapped: c.lut.firstMapped, bitsPerEntry: c.lut.bits, entries: c.lut.entries)
      if c.kind == "modality" {
        spec.rescale = nil
        spec.modalityLUT = table
      } else {
        spec.rescale = c.rescale.map { ($0[0], $0[1]) }
        spec.voiLUT = table
      }
      let path = dir.appendingPathComponent("\(c.name).dcm").path
      try DicomWriter.write(spec, to: path)
      let image = try ScanIO.read(path: path)
      XCTAssertEqual(image.storedFrame(0), c.stored, c.name)
      var worst: Float = 0
      if c.kind == "modality" {
        XCTAssertEqual(image.modalityLUT, .table(table), c.name)
        let values = image.modalityFrame(0)
        for (i, stored) in c.stored.enumerated() {
          XCTAssertEqual(values[i], Self.closedForm(c.lut, Int(stored)), "\(c.name)[\(i)]")
          worst = max(worst, abs(values[i] - Float(c.expected[i])))
        }
      } else {
        XCTAssertEqual(image.voiLUT, table, c.name)
        let modality = image.modalityFrame(0)
        let slope = c.rescale![0]
        let intercept = c.rescale![1]
        let top = Float((1 << c.lut.bits) - 1)
        for (auto, file) in [(WindowChoice.auto, "auto"), (.file, "file")] {
          let display = image.displayFrame(0, window: auto)
          for (i, stored) in c.stored.enumerated() {
            let hu = Double(stored) * slope + intercept
            XCTAssertEqual(modality[i], Float(hu), "\(c.name)[\(i)] modality")
            let entry = Self.closedForm(c.lut, Int(hu.rounded(.down)))
            XCTAssertEqual(display[i], entry / top * 255, "\(c.name)[\(i)] \(file)")
            worst = max(worst, abs(display[i] / 255 * top - Float(c.expected[i])))
          }
        }
        // An explicit window ignores the VOI LUT Sequence.
        let windowed = image.displayFrame(0, window: .explicit(VOIWindow(center: 0, width: 2000)))
        XCTAssertEqual(windowed[0], 0, c.name)
      }
      print("\(c.name): LUT OK, maxdiff vs pydicom = \(worst) (tolerance 0.001)")
      XCTAssertLessThanOrEqual(worst, 1e-3, c.name)
    }
  }

  func testInvalidTableIsRefusedByTheWriter() throws {
    var spec = DicomImageSpec(rows: 1, columns: 2, storedValues: [0, 1])
    spec.modalityLUT = LookupTable(firstMapped: 0, bitsPerEntry: 16, entries: [0.5, 1])
    XCTAssertThrowsError(try DicomWriter.write(spec, to: "/tmp/never-written-lut.dcm")) { error in
      XCTAssertEqual((error as? ScanIOError)?.code, "invalidArgument")
    }
  }
}
