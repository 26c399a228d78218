import Datasets
import Foundation
import TestSupport
import XCTest

final class DatasetLoaderTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try makeTemporaryDirectory("manifest").path
    for name in ["a.png", "b.png", "c.png", "d.png", "e.png"] {
      try Fixtures.writePNG(dir + "/img/" + name)
    }
    try Fixtures.write("not an image", to: "img/broken.png", in: dir)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

  func testEveryKindOfBadRowIsReportedWithRowNumberAndReason() throws {
    let csv = """
      path,label,domain,patient,split
      img/a.png,cat,s1,P1,train
      img/missing.png,cat,s1,P2,train
      img/b.png,zebra,s1,P3,train
      img/a.png,cat,s1,P1,train
      img/c.png,dog,s1,P1,test
      img/broken.png,dog,s2,P4,
      img/d.png,dog,s2,P5,

      """
    let path = try Fixtures.write(csv, to: "manifest.csv", in: dir)
    let options = DatasetLoadOptions(labels: ["cat", "dog"], validateImages: true)
    XCTAssertThrowsError(try DatasetLoader.load(path, options: options)) { error in
      guard case DatasetsError.badRows(_, let rows) = error else { return XCTFail("\(error)") }
      XCTAssertEqual(rows.map(\.row), [3, 4, 5, 6, 7])
      XCTAssertEqual(
        rows.map(\.reason),
        [.missingFile, .unknownLabel, .duplicatePath, .patientInTwoSplits, .undecodable])
      let message = "\(error)"
      XCTAssertTrue(message.contains("row 3"), message)
      XCTAssertTrue(message.contains("--on-bad skip"), message)
      XCTAssertFalse(message.contains("P1"), "patient identifiers must not appear: \(message)")
    }
    var skip = options
    skip.onBad = .skip
    let dataset = try DatasetLoader.load(path, options: skip)
    XCTAssertEqual(dataset.entries.map(\.key), ["img/a.png", "img/d.png"])
    XCTAssertEqual(dataset.skipped.count, 5)
    XCTAssertEqual(dataset.labels, ["cat", "dog"])
    XCTAssertNotEqual(dataset.entries[0].patient, "P1", "patient ids are hashed")
    XCTAssertEqual(dataset.entries[0].patient, patientKey("P1"))
  }

  func testMalformedHeaderIsOneError() throws {
    let path = try Fixtures.write("file,class\nimg/a.png,cat\n", to: "bad.csv", in: dir)
    XCTAssertThrowsError(try DatasetLoader.load(path)) { error in
      XCTAssertTrue("\(error)".contains("'path' and 'label'"), "\(error)")
    }
  }

  func testQuotedFieldsAndCRLF() throws {
    let path = try Fixtures.write(
      "path,label\r\n\"img/a.png\",\"big, round\"\r\nimg/b.png,\"say \"\"hi\"\"\"\r\n", to: "q.csv",
      in: dir)
    let d = try DatasetLoader.load(path)
    XCTAssertEqual(d.entries.map(\.label), ["big, round", "say \"hi\""])
    XCTAssertEqual(d.entries.map(\.row), [2, 3])
  }

  func testImageFolderTree() throws {
    let root = dir + "/tree"
    try Fixtures.writePNG(root + "/cat/1.png")
    try Fixtures.writePNG(root + "/cat/sub/2.png")
    try Fixtures.writePNG(root + "/dog/3.png")
    try Fixtures.write("x", to: "tree/dog/notes.txt", in: dir)
    let d = try DatasetLoader.load(root)
    XCTAssertEqual(d.labels, ["cat", "dog"])
    XCTAssertEqual(d.entries.map(\.key), ["cat/1.png", "cat/sub/2.png", "dog/3.png"])
  }

  /// JPEG files (.jpg, .jpeg, any case) are found like PNGs; a JPEG that does not decode is
  /// a bad row when images are validated.
  func testImageFolderTreeFindsJPEGs() throws {
    let root = dir + "/jpegs"
    for (source, target) in [
      ("rgb_baseline.jpg", "cat/1.jpg"), ("gray_progressive.jpg", "cat/2.JPEG"),
      ("gray_baseline.jpg", "dog/3.jpeg"),
    ] {
      try FileManager.default.createDirectory(
        atPath: (root + "/" + target as NSString).deletingLastPathComponent,
        withIntermediateDirectories: true)
      try FileManager.default.copyItem(atPath: jpegFixture(source), toPath: root + "/" + target)
    }
    try Fixtures.writePNG(root + "/dog/4.png")
    try Fixtures.write("not a jpeg", to: "jpegs/dog/5.jpg", in: dir)
    let d = try DatasetLoader.load(
      root, options: DatasetLoadOptions(onBad: .skip, validateImages: true))
    XCTAssertEqual(d.labels, ["cat", "dog"])
    XCTAssertEqual(d.entries.map(\.key), ["cat/1.jpg", "cat/2.JPEG", "dog/3.jpeg", "dog/4.png"])
    XCTAssertEqual(d.skipped.map(\.path), ["dog/5.jpg"])
    XCTAssertEqual(d.skipped.map(\.reason), [.undecodable])
  }

  func testDicomTreeWithLabelsBySOPInstanceUIDAndDomainsFromHeaders() throws {
    let generated = try DatasetLoader.load(Fixtures.tiny)
    let manifest = try String(contentsOfFile: Fixtures.tiny + "/manifest.csv", encoding: .utf8)
    let records = CSV.parse(manifest)
    let uidColumn = records[0].fields.firstIndex(of: "sop_instance_uid")!
    let labelColumn = records[0].fields.firstIndex(of: "label")!
    var labels = "SOPInstanceUID,label\n"
    for r in records.dropFirst() { labels += "\(r.fields[uidColumn]),\(r.fields[labelColumn])\n" }
    labels += "2.25.999,normal\n"  // a label with no file
    let labelsPath = try Fixtures.write(labels, to: "labels.csv", in: dir)
    let options = DatasetLoadOptions(
      onBad: .skip, domainBy: ["Manufacturer", "ManufacturerModelName"], labelsCSV: labelsPath)
    let d = try DatasetLoader.load(Fixtures.tiny, options: options)
    XCTAssertEqual(d.entries.count, generated.entries.count)
    XCTAssertEqual(d.skipped.map(\.reason), [.missingFile])
    XCTAssertEqual(d.skipped.first?.row, records.count + 1)
    XCTAssertEqual(
      Set(d.domains), Set(Fixtures.spec.sites.map { "\($0.manufacturer) / \($0.model)" }))
    // Labels agree with the manifest, and patients come from PatientID (hashed).
    let byKey = Dictionary(uniqueKeysWithValues: generated.entries.map { ($0.key, $0) })
    for e in d.entries {
      XCTAssertEqual(e.label, byKey[e.key]?.label)
      XCTAssertEqual(e.patient, byKey[e.key]?.patient)
    }
  }
}
