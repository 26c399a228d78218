import Datasets
import Foundation
import ScanIO
import TestSupport
import XCTest

/// Patients come from the headers unless the manifest names them: PatientID, else
/// StudyInstanceUID (both salted-hashed), so splits never put one patient in two splits.
final class PatientGroupingTests: XCTestCase {
  var root = ""
  var images = 0
  var studyUIDImages = 0

  override func setUpWithError() throws {
    root = try makeTemporaryDirectory("patients").path
    (images, studyUIDImages) = try Fixtures.writePatientTree(root)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

  let fractions = [
    SplitAssignment.NamedFraction(name: "train", fraction: 0.5),
    .init(name: "val", fraction: 0.25), .init(name: "test", fraction: 0.25),
  ]

  /// 6 true patients, the two without PatientID grouped by StudyInstanceUID, and no true
  /// patient in two splits for several seeds.
  func assertTruePatients(_ d: Dataset, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(d.entries.count, images, file: file, line: line)
    XCTAssertEqual(d.patientCount, 6, file: file, line: line)
    XCTAssertEqual(
      d.patientSources,
      {
        var s = PatientSources([])
        s.patientID = images - studyUIDImages
        s.studyInstanceUID = studyUIDImages
        return s
      }(), file: file, line: line)
    XCTAssertNil(d.patientWarning, file: file, line: line)
    // The keys group exactly the true patients and hold no identifier.
    var keyOf: [String: String] = [:]
    for e in d.entries {
      let truth = Fixtures.truePatient(of: e.key)
      if let k = keyOf[truth] { XCTAssertEqual(k, e.group, e.key, file: file, line: line) }
      keyOf[truth] = e.group
      XCTAssertFalse(e.group.contains("PAT-"), file: file, line: line)
    }
    XCTAssertEqual(Set(keyOf.values).count, 6, file: file, line: line)
    for seed in 0..<8 as Range<UInt64> {
      let s = try Splitter.split(d, fractions: fractions, seed: seed)
      var splitOf: [String: String] = [:]
      for e in d.entries {
        let truth = Fixtures.truePatient(of: e.key)
        let split = try XCTUnwrap(s.splitOf[e.key], file: file, line: line)
        if let prior = splitOf[truth] {
          XCTAssertEqual(
            prior, split, "seed \(seed): \(truth) in two splits", file: file, line: line)
        }
        splitOf[truth] = split
      }
    }
  }

  func testManifestWithOnlyPathAndLabelGroupsByHeaders() throws {
    try assertTruePatients(try DatasetLoader.load(root + "/images.csv"))
  }

  func testImageFolderGroupsByHeaders() throws {
    try assertTruePatients(try DatasetLoader.load(root))
  }

  func testDicomTreeFallsBackToStudyInstanceUID() throws {
    let d = try DatasetLoader.load(
      root, options: DatasetLoadOptions(labelsCSV: root + "/labels.csv"))
    try assertTruePatients(d)
  }

  func testManifestPatientColumnWins() throws {
    // The column splits patient 0's three images into three patients; the headers do not count.
    var csv = "path,label,patient\n"
    for i in 0..<3 { csv += "a/p0-\(i).dcm,a,column-\(i)\n" }
    let d = try DatasetLoader.load(try Fixtures.write(csv, to: "column.csv", in: root))
    XCTAssertEqual(d.entries.map(\.patient), (0..<3).map { patientKey("column-\($0)") })
    XCTAssertEqual(d.patientSources.column, 3)
    XCTAssertEqual(d.patientCount, 3)
  }

  func testUnreadableHeaderIsABadRow() throws {
    try Fixtures.write("not a DICOM file", to: "b/broken.dcm", in: root)
    let csv = try String(contentsOfFile: root + "/images.csv", encoding: .utf8) + "b/broken.dcm,b\n"
    let path = try Fixtures.write(csv, to: "with-broken.csv", in: root)
    XCTAssertThrowsError(try DatasetLoader.load(path)) { error in
      guard case DatasetsError.badRows(_, let rows) = error else { return XCTFail("\(error)") }
      XCTAssertEqual(rows.map(\.row), [images + 2])
      XCTAssertEqual(rows.map(\.reason), [.undecodable])
      XCTAssertTrue("\(error)".contains("--on-bad skip"), "\(error)")
    }
    let d = try DatasetLoader.load(path, options: DatasetLoadOptions(onBad: .skip))
    XCTAssertEqual(d.skipped.map(\.row), [images + 2])
    try assertTruePatients(d)
  }

  func testPNGPatientsAreUnknownAndSaidOnce() throws {
    let dir = root + "/png"
    for name in ["1", "2", "3"] { try Fixtures.writePNG(dir + "/x/\(name).png") }
    for name in ["4", "5"] { try Fixtures.writePNG(dir + "/y/\(name).png") }
    let d = try DatasetLoader.load(dir)
    XCTAssertEqual(d.patientSources.unknown, 5)
    XCTAssertEqual(d.patientCount, 5)
    let warning = try XCTUnwrap(d.patientWarning)
    XCTAssertTrue(warning.contains("patients unknown for 5 of 5 images"), warning)
    XCTAssertTrue(warning.contains("add a patient column"), warning)
    XCTAssertFalse(warning.contains("\n"), warning)
    // With a patient column, nothing is unknown.
    let csv = "path,label,patient\nx/1.png,x,A\nx/2.png,x,A\ny/4.png,y,B\n"
    let named = try DatasetLoader.load(try Fixtures.write(csv, to: "m.csv", in: dir))
    XCTAssertNil(named.patientWarning)
    XCTAssertEqual(named.patientCount, 2)
  }

  /// Every shipped dataset spec, rendered tiny: splits keep each patient in one split, and a
  /// manifest stripped to path,label groups by the files' PatientIDs exactly like the patient
  /// column.
  func testShippedSpecsNeverSplitAPatient() throws {
    let specs = try FileManager.default.contentsOfDirectory(
      atPath: packageRoot.appendingPathComponent("datasets").path
    ).filter { $0.hasSuffix(".yaml") }.sorted()
    XCTAssertFalse(specs.isEmpty)
    for name in specs {
      let specPath = packageRoot.appendingPathComponent("datasets/" + name).path
      let text = try String(contentsOfFile: specPath, encoding: .utf8)
      let spec = try PhantomSpec.parse(yaml: text, path: specPath)
      let dir = try makeTemporaryDirectory("shipped-\(name)").path
      defer { try? FileManager.default.removeItem(atPath: dir) }
      _ = try PhantomGenerator.generate(
        spec: spec, specText: text, outDirectory: dir, seed: 3, perClass: 4, size: 16)
      let withColumn = try DatasetLoader.load(dir + "/manifest.csv")
      let truth = Dictionary(uniqueKeysWithValues: withColumn.entries.map { ($0.key, $0.group) })
      XCTAssertLessThan(withColumn.patientCount, withColumn.entries.count, "\(name): 1 slice each")
      // The same files with only path and label: patients from the headers.
      let records = CSV.parse(try String(contentsOfFile: dir + "/manifest.csv", encoding: .utf8))
      let pathColumn = records[0].fields.firstIndex(of: "path")!
      let labelColumn = records[0].fields.firstIndex(of: "label")!
      let stripped =
        "path,label\n"
        + records.dropFirst().map {
          "\($0.fields[pathColumn]),\($0.fields[labelColumn])\n"
        }.joined()
      let headers = try DatasetLoader.load(try Fixtures.write(stripped, to: "bare.csv", in: dir))
      XCTAssertEqual(headers.patientSources.patientID, headers.entries.count, name)
      XCTAssertEqual(headers.patientCount, withColumn.patientCount, name)
      for dataset in [withColumn, headers] {
        for seed in 0..<5 as Range<UInt64> {
          let s = try Splitter.split(dataset, fractions: fractions, seed: seed)
          var splitOf: [String: String] = [:]
          for e in dataset.entries {
            let patient = try XCTUnwrap(truth[e.key])
            let split = try XCTUnwrap(s.splitOf[e.key])
            if let prior = splitOf[patient] {
              XCTAssertEqual(prior, split, "\(name) seed \(seed): a patient in two splits")
            }
            splitOf[patient] = split
          }
        }
      }
    }
  }
}
