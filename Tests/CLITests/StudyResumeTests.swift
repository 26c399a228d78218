import Foundation
import TestSupport
import XCTest

@testable import Studies

/// The real `medtransfer study run`, killed with SIGKILL mid-study and rerun: every run ends up
/// with exactly one result; finished runs are not redone.
final class StudyResumeTests: XCTestCase {
  /// `sites.csv`: `rows` majority-class-only rows cycling over `domains` and three labels,
  /// every fifth row in the test split (each an empty file, each its own named patient).
  static func writeManifest(in dir: URL, rows count: Int, domains: [String]) throws {
    var rows = ["path,label,domain,split,patient"]
    for i in 0..<count {
      let domain = domains[i % domains.count]
      let label = ["normal", "nodule", "ground-glass"][(i / domains.count) % 3]
      rows.append("\(domain)/\(i).dcm,\(label),\(domain),\(i % 5 == 0 ? "test" : "train"),p\(i)")
      try createEmptyFiles(["\(domain)/\(i).dcm"], in: dir)
    }
    try rows.joined(separator: "\n").write(
      to: dir.appendingPathComponent("sites.csv"), atomically: true, encoding: .utf8)
  }

  func testKillNineMidStudyThenRerunGivesExactlyOneResultPerRun() throws {
    let dir = try makeTemporaryDirectory("studies-resume")
    defer { try? FileManager.default.removeItem(at: dir) }
    // 2 targets × 12 budgets × 15 seeds = 360 majority-class runs on a 1500-row manifest.
    try Self.writeManifest(in: dir, rows: 1500, domains: ["A", "B", "C"])
    let spec = dir.appendingPathComponent("resume.yaml")
    try """
    name: resume
    data:
      source: {manifest: sites.csv, domain: A}
      targets: [{manifest: sites.csv, domain: B}, {manifest: sites.csv, domain: C}]
    arms: [baseline:majority-class]
    budgets: [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, all]
    seeds: 15
    shift: {analyses: []}
    """.write(to: spec, atomically: true, encoding: .utf8)
    let studyDir = dir.appendingPathComponent("study")
    let total = 2 * 12 * 15

    // Start, wait for some finished-run lines, kill -9.
    let process = Process()
    process.executableURL = medtransferExecutable()
    process.arguments = ["study", "run", spec.path, "--out", studyDir.path, "--no-report"]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    var seen = ""
    while process.isRunning {
      let chunk = err.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      seen += String(decoding: chunk, as: UTF8.self)
      if seen.components(separatedBy: "target balanced accuracy").count > 20 { break }
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertEqual(
      process.terminationReason, .uncaughtSignal,
      "the study finished before the kill; make it bigger")

    let store = try StudyStore(directory: studyDir, create: false)
    let finishedBefore = try store.runs().filter { $0.status == .finished }.count
    XCTAssertGreaterThan(finishedBefore, 0)
    XCTAssertLessThan(finishedBefore, total)

    let rerun = try runMedtransfer(["study", "run", spec.path, "--out", studyDir.path])
    XCTAssertEqual(rerun.status, 0, rerun.stderr)
    XCTAssertTrue(rerun.stderr.contains("\(finishedBefore) already in the store"), rerun.stderr)
    XCTAssertTrue(rerun.stderr.contains("\(total - finishedBefore) finished"), rerun.stderr)

    let runs = try store.runs()
    XCTAssertEqual(runs.count, total)
    XCTAssertEqual(Set(runs.map(\.hash)).count, total)
    XCTAssertTrue(runs.allSatisfy { $0.status == .finished && $0.result != nil })
    let perRun = try store.query(
      "SELECT runId, COUNT(*) AS n FROM finalMetric WHERE dataset = 'target' GROUP BY runId")
    XCTAssertEqual(perRun.count, total)
    XCTAssertTrue(perRun.allSatisfy { $0["n"] == "6" })
    // Runs finished before the kill were not redone (one attempt each).
    XCTAssertEqual(
      runs.filter { $0.attempts == 1 }.count, total - runs.filter { $0.attempts > 1 }.count)
    XCTAssertLessThanOrEqual(runs.filter { $0.attempts > 1 }.count, 1)
  }

  /// `--workers 2`: two shard processes share one store; every run is done exactly once and
  /// the stored metrics equal those of a single-process run of the same spec.
  func testTwoWorkersShareOneStudyAndMatchOneProcess() throws {
    let dir = try makeTemporaryDirectory("studies-workers")
    defer { try? FileManager.default.removeItem(at: dir) }
    try Self.writeManifest(in: dir, rows: 300, domains: ["A", "B"])
    let spec = dir.appendingPathComponent("workers.yaml")
    try """
    name: workers
    data:
      source: {manifest: sites.csv, domain: A}
      targets: [{manifest: sites.csv, domain: B}]
    arms: [baseline:majority-class]
    budgets: [1, 2, 3, 5, 8, 13, all]
    seeds: 5
    shift: {analyses: []}
    """.write(to: spec, atomically: true, encoding: .utf8)
    let total = 7 * 5
    var metrics: [String: [[String?]]] = [:]
    for (name, extra) in [("one", [String]()), ("two", ["--workers", "2"])] {
      let studyDir = dir.appendingPathComponent(name)
      let result = try runMedtransfer(["study", "run", spec.path, "--out", studyDir.path] + extra)
      XCTAssertEqual(result.status, 0, result.stderr)
      let store = try StudyStore(directory: studyDir, create: false)
      let runs = try store.runs()
      XCTAssertEqual(runs.count, total)
      XCTAssertTrue(runs.allSatisfy { $0.status == .finished && $0.attempts == 1 }, name)
      let perRun = try store.query(
        "SELECT runId, COUNT(*) AS n FROM finalMetric WHERE dataset = 'target' GROUP BY runId")
      XCTAssertEqual(perRun.count, total)
      let values = try store.query(
        """
        SELECT r.configHash AS h, m.metric AS k, m.value AS v FROM finalMetric m
        JOIN run r ON r.id = m.runId WHERE m.dataset = 'target' ORDER BY h, k
        """)
      metrics[name] = values.map { row in ["h", "k", "v"].map { row[$0] ?? nil } }
      XCTAssertTrue(
        FileManager.default.fileExists(atPath: studyDir.appendingPathComponent("index.html").path))
      if name == "two" {
        XCTAssertTrue(
          result.stderr.contains("[1/2] ") && result.stderr.contains("[2/2] "), result.stderr)
        // Each worker's last line ("study done …") reaches the parent's stderr before it exits.
        for k in 1...2 {
          XCTAssertTrue(result.stderr.contains("[\(k)/2] study done"), result.stderr)
        }
      }
    }
    XCTAssertEqual(metrics["one"]?.count, total * 6)
    XCTAssertEqual(metrics["one"], metrics["two"])
  }
}
