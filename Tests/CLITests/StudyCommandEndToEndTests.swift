import Foundation
import Interchange
import TestSupport
import XCTest

@testable import Reports
@testable import Studies

/// The real binary: `study run` on a tiny manifest study, `report` regenerating from the DB,
/// and one-line errors for bad specs.
final class StudyCommandEndToEndTests: XCTestCase {
  func testStudyRunWritesAReportThatMatchesTheDatabase() throws {
    let dir = try makeTemporaryDirectory("study-e2e")
    defer { try? FileManager.default.removeItem(at: dir) }
    var rows = ["path,label,domain,split,patient"]
    for (domain, counts) in [("A", [40, 20]), ("B", [12, 36])] {
      for (label, n) in zip(["normal", "nodule"], counts) {
        for i in 0..<n {
          rows.append(
            "\(domain)/\(label)\(i).dcm,\(label),\(domain),\(i % 4 == 0 ? "test" : "train"),\(domain)\(label)\(i)"
          )
        }
      }
    }
    try rows.joined(separator: "\n").write(
      to: dir.appendingPathComponent("sites.csv"), atomically: true, encoding: .utf8)
    try createEmptyFiles(rows.dropFirst().map { String($0.prefix { $0 != "," }) }, in: dir)
    let spec = dir.appendingPathComponent("tiny.yaml")
    try """
    name: tiny
    data:
      source: {manifest: sites.csv, domain: A}
      targets: [{manifest: sites.csv, domain: B}]
    arms: [baseline:majority-class]
    budgets: [5, 10, all]
    seeds: 2
    shift: {analyses: []}
    report: {metric: accuracy}
    """.write(to: spec, atomically: true, encoding: .utf8)
    let studyDir = dir.appendingPathComponent("out")
    let run = try runMedtransfer(["study", "run", spec.path, "--out", studyDir.path])
    XCTAssertEqual(run.status, 0, run.stderr)
    XCTAssertEqual(run.stdout, "")
    XCTAssertTrue(
      run.stderr.contains(
        "[6/6] baseline:majority-class → B · all/class · seed 1: target accuracy 0.750"), run.stderr
    )

    let html = try String(
      contentsOf: studyDir.appendingPathComponent("index.html"), encoding: .utf8)
    for n in 1...7 { XCTAssertTrue(html.contains("<section id=\"s\(n)\">"), "section \(n)") }
    XCTAssertTrue(
      html.contains("0.750"),
      "the baseline's accuracy (27 of 36 test images are nodules … ) is shown")
    XCTAssertTrue(html.contains("medtransfer study run"))

    // Regenerate from the database alone (spec and manifest gone) into another folder.
    try FileManager.default.removeItem(at: spec)
    try FileManager.default.removeItem(at: dir.appendingPathComponent("sites.csv"))
    let other = dir.appendingPathComponent("regenerated")
    let report = try runMedtransfer(["report", studyDir.path, "--out", other.path, "--json"])
    XCTAssertEqual(report.status, 0, report.stderr)
    let decoded = try JSONCoding.decoder().decode(StudyReport.self, from: Data(report.stdout.utf8))
    let store = try StudyStore(directory: studyDir, create: false)
    let dbRuns = try store.runs()
    XCTAssertEqual(decoded.runs.map(\.hash), dbRuns.map(\.hash))
    for (a, b) in zip(decoded.runs, dbRuns) {
      XCTAssertEqual(a.result, b.result)
      XCTAssertEqual(a.status, b.status.rawValue)
    }
    XCTAssertEqual(
      decoded.runs.compactMap { $0.result?.target.accuracy }, Array(repeating: 0.75, count: 6))
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: other.appendingPathComponent("index.html").path))
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: other.appendingPathComponent("csv/runs.csv").path))
  }

  func testBadSpecAndMissingStudyGiveOneLineErrors() throws {
    let dir = try makeTemporaryDirectory("study-e2e-bad")
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = dir.appendingPathComponent("bad.yaml")
    try
      "data:\n  source: {manifest: a.csv}\n  targets: [{manifest: b.csv}]\narms: [scratch]\nbudgets: [ten]\n"
      .write(to: spec, atomically: true, encoding: .utf8)
    let bad = try runMedtransfer([
      "study", "run", spec.path, "--out", dir.appendingPathComponent("o").path,
    ])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertEqual(
      bad.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1,
      bad.stderr)
    XCTAssertTrue(
      bad.stderr.contains("bad.yaml:5: key 'budgets[0]': 'ten' is not a label budget"), bad.stderr)

    let trainer = dir.appendingPathComponent("trainer.yaml")
    try "data:\n  source: {manifest: a.csv}\n  targets: [{manifest: b.csv}]\narms: [scratch]\n"
      .write(to: trainer, atomically: true, encoding: .utf8)
    let unsupported = try runMedtransfer([
      "study", "run", trainer.path, "--out", dir.appendingPathComponent("o2").path,
    ])
    XCTAssertNotEqual(unsupported.status, 0)
    // Training arms run through the Adaptation executor now; the missing manifest is what fails.
    XCTAssertEqual(
      unsupported.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n")
        .count, 1, unsupported.stderr)
    XCTAssertTrue(unsupported.stderr.contains("a.csv: file not found"), unsupported.stderr)

    let missing = try runMedtransfer(["report", dir.appendingPathComponent("nothing").path])
    XCTAssertNotEqual(missing.status, 0)
    XCTAssertTrue(missing.stderr.contains("no study.sqlite here"), missing.stderr)
  }
}
