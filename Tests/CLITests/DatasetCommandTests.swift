import Datasets
import Foundation
import TestSupport
import XCTest

/// End-to-end: the real `medtransfer` binary on tiny generated data.
final class DatasetCommandTests: XCTestCase {
  func testGenerateThenSummary() throws {
    let dir = try makeTemporaryDirectory("cli-generate").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let spec = packageRoot.appendingPathComponent("datasets/chest-ct-sites.yaml").path
    let gen = try runMedtransfer([
      "dataset", "generate", spec, "--out", dir, "--per-class", "3", "--size", "48", "--seed", "5",
      "--json",
    ])
    XCTAssertEqual(gen.status, 0, gen.stderr)
    let result = try JSONSerialization.jsonObject(with: Data(gen.stdout.utf8)) as! [String: Any]
    let images = result["images"] as! Int
    XCTAssertGreaterThanOrEqual(images, 3 * 4 * 3)
    XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/manifest.csv"))

    let sum = try runMedtransfer(["dataset", "summary", dir, "--json"])
    XCTAssertEqual(sum.status, 0, sum.stderr)
    let summary = try JSONSerialization.jsonObject(with: Data(sum.stdout.utf8)) as! [String: Any]
    XCTAssertEqual(summary["images"] as? Int, images)
    XCTAssertEqual(summary["domains"] as? [String], ["site-a", "site-b", "site-c"])
    let counts = summary["counts"] as! [[String: Any]]
    XCTAssertEqual(counts.reduce(0) { $0 + ($1["images"] as! Int) }, images)
    let perDomain = summary["perDomain"] as! [[String: Any]]
    let spacing = perDomain.map { (($0["pixelSpacingMM"] as! [String: Any])["mean"] as! Double) }
    XCTAssertEqual(Set(spacing.map { ($0 * 1000).rounded() }).count, 3, "sites differ in FOV")
    let headers = perDomain.map { $0["headers"] as! [String: [String: Int]] }
    XCTAssertEqual(
      headers[1]["PhotometricInterpretation"], ["MONOCHROME1": perDomain[1]["images"] as! Int])

    // Domains from headers instead of the manifest column.
    let byHeader = try runMedtransfer([
      "dataset", "summary", dir + "/manifest.csv", "--domain-by",
      "Manufacturer,ManufacturerModelName",
      "--json",
    ])
    XCTAssertEqual(byHeader.status, 0, byHeader.stderr)
    let s2 = try JSONSerialization.jsonObject(with: Data(byHeader.stdout.utf8)) as! [String: Any]
    XCTAssertTrue((s2["domains"] as! [String]).contains("Orion Imaging / Stratus 16"))

    // Text mode prints a table.
    let text = try runMedtransfer(["dataset", "summary", dir])
    XCTAssertEqual(text.status, 0, text.stderr)
    XCTAssertTrue(text.stdout.contains("[site-b]"), text.stdout)
  }

  /// An ImageFolder tree of JPEGs (fixtures from scripts/reference/jpeg_reference.py) through
  /// the real binary: found, decoded (sizes and intensities), a bad one listed, not fatal.
  func testSummaryOfAJPEGImageFolder() throws {
    let dir = try makeTemporaryDirectory("cli-jpeg").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let files = [
      ("rgb_baseline.jpg", "benign/a.jpg"), ("rgb_progressive.jpg", "benign/b.jpeg"),
      ("gray_baseline.jpg", "malignant/c.jpg"), ("gray_progressive.jpg", "malignant/d.JPG"),
    ]
    for (source, target) in files {
      try FileManager.default.createDirectory(
        atPath: (dir + "/" + target as NSString).deletingLastPathComponent,
        withIntermediateDirectories: true)
      try FileManager.default.copyItem(atPath: jpegFixture(source), toPath: dir + "/" + target)
    }
    let cut = try Data(contentsOf: URL(fileURLWithPath: jpegFixture("gray_baseline.jpg")))
    try cut.prefix(cut.count / 2).write(to: URL(fileURLWithPath: dir + "/malignant/e.jpg"))

    let sum = try runMedtransfer(["dataset", "summary", dir, "--json"])
    XCTAssertEqual(sum.status, 0, sum.stderr)
    let summary = try JSONSerialization.jsonObject(with: Data(sum.stdout.utf8)) as! [String: Any]
    XCTAssertEqual(summary["images"] as? Int, 4)  // the cut one is skipped, not counted
    let counts = summary["counts"] as! [[String: Any]]
    XCTAssertEqual(counts.map { $0["label"] as! String }.sorted(), ["benign", "malignant"])
    let perDomain = summary["perDomain"] as! [[String: Any]]
    XCTAssertEqual(perDomain.first?["sizes"] as? [String: Int], ["11x13": 4], sum.stdout)
    let skipped = summary["skipped"] as! [[String: Any]]
    XCTAssertEqual(skipped.map { $0["path"] as! String }, ["malignant/e.jpg"])
    XCTAssertTrue((skipped.first?["detail"] as? String ?? "").contains("JPEG error"), sum.stdout)
  }

  func testBadManifestFailsWithOneLineAndSkipListsRows() throws {
    let dir = try makeTemporaryDirectory("cli-bad").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Fixtures.writePNG(dir + "/a.png")
    try Fixtures.write("path,label,patient\na.png,x,PX1\nnope.png,y,PX2\n", to: "m.csv", in: dir)
    let fail = try runMedtransfer(["dataset", "summary", dir + "/m.csv", "--json"])
    XCTAssertNotEqual(fail.status, 0)
    XCTAssertEqual(fail.stdout, "")
    XCTAssertTrue(fail.stderr.contains("row 3"), fail.stderr)
    XCTAssertTrue(fail.stderr.contains("missingFile"), fail.stderr)
    XCTAssertFalse(fail.stderr.contains("PX2"), fail.stderr)
    XCTAssertFalse(fail.stderr.contains("Fatal"), fail.stderr)
    let skip = try runMedtransfer([
      "dataset", "summary", dir + "/m.csv", "--on-bad", "skip", "--json",
    ])
    XCTAssertEqual(skip.status, 0, skip.stderr)
    let s = try JSONSerialization.jsonObject(with: Data(skip.stdout.utf8)) as! [String: Any]
    XCTAssertEqual((s["skipped"] as! [[String: Any]]).first?["row"] as? Int, 3)
    let missingSpec = try runMedtransfer([
      "dataset", "generate", dir + "/none.yaml", "--out", dir + "/o",
    ])
    XCTAssertNotEqual(missingSpec.status, 0)
    XCTAssertTrue(missingSpec.stderr.contains("none.yaml"), missingSpec.stderr)
  }

  /// `dataset summary --json` on an ImageFolder of DICOM files whose headers name 6 patients
  /// (two only through their StudyInstanceUID): the true count and the fallback count.
  func testSummaryCountsPatientsFromHeaders() throws {
    let dir = try makeTemporaryDirectory("cli-patients").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let (images, studyUIDImages) = try Fixtures.writePatientTree(dir)
    let sum = try runMedtransfer(["dataset", "summary", dir, "--json"])
    XCTAssertEqual(sum.status, 0, sum.stderr)
    let summary = try JSONSerialization.jsonObject(with: Data(sum.stdout.utf8)) as! [String: Any]
    XCTAssertEqual(summary["images"] as? Int, images)
    XCTAssertEqual(summary["patients"] as? Int, 6)
    let sources = summary["patientSources"] as? [String: Int]
    XCTAssertEqual(sources?["studyInstanceUID"], studyUIDImages)
    XCTAssertEqual(sources?["patientID"], images - studyUIDImages)
    XCTAssertEqual(sources?["unknown"], 0)
    let perDomain = summary["perDomain"] as! [[String: Any]]
    XCTAssertEqual(perDomain.map { $0["patients"] as? Int }, [6])
    XCTAssertFalse(sum.stdout.contains("PAT-"), "no patient identifier in the output")
    XCTAssertFalse(sum.stderr.contains("patients unknown"), sum.stderr)
    // Text mode says where the patients came from.
    let text = try runMedtransfer(["dataset", "summary", dir + "/images.csv"])
    XCTAssertEqual(text.status, 0, text.stderr)
    XCTAssertTrue(
      text.stdout.contains(
        "patients: 6 (images by patient source: PatientID \(images - studyUIDImages), "
          + "StudyInstanceUID where PatientID is empty \(studyUIDImages))"), text.stdout)
    // A split keeps each true patient in one split.
    let out = dir + "/splits.json"
    let split = try runMedtransfer([
      "dataset", "split", dir, "--fractions", "train=0.5,val=0.25,test=0.25", "--seed", "3",
      "--out", out,
    ])
    XCTAssertEqual(split.status, 0, split.stderr)
    XCTAssertTrue(split.stderr.contains("of 6 patients"), split.stderr)
    let assignment = try SplitAssignment.load(from: out)
    var splitOf: [String: String] = [:]
    for (key, s) in assignment.splitOf {
      let truth = Fixtures.truePatient(of: key)
      if let prior = splitOf[truth] { XCTAssertEqual(prior, s, "\(truth) in two splits") }
      splitOf[truth] = s
    }
  }

  /// PNG files carry no patient: `dataset summary` and `dataset split` say so in one stderr line.
  func testPatientsUnknownIsOneWarningLine() throws {
    let dir = try makeTemporaryDirectory("cli-png-patients").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for i in 0..<4 { try Fixtures.writePNG(dir + "/x/\(i).png") }
    for i in 0..<4 { try Fixtures.writePNG(dir + "/y/\(i).png") }
    for arguments in [
      ["dataset", "summary", dir, "--json"],
      ["dataset", "split", dir, "--out", dir + "/splits.json"],
    ] {
      let r = try runMedtransfer(arguments)
      XCTAssertEqual(r.status, 0, r.stderr)
      let lines = r.stderr.split(separator: "\n").filter { $0.contains("patients unknown") }
      XCTAssertEqual(lines.count, 1, r.stderr)
      XCTAssertTrue(lines.first?.contains("patients unknown for 8 of 8 images") ?? false, r.stderr)
      XCTAssertTrue(lines.first?.contains("add a patient column") ?? false, r.stderr)
    }
  }
}
