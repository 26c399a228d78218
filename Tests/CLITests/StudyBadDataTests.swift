import Foundation
import TestSupport
import XCTest

@testable import Studies

/// Study data under `data.on_bad`: what a dataset lacks is said once per study run (not per
/// run), bad rows are kept in `skipped-rows.txt`, and images that fail only when decoded are
/// skipped and named in each run's notes.
final class StudyBadDataTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws {
    try skipUnlessLite0IsCached()
    dir = try makeTemporaryDirectory("studies-bad-data")
  }

  override func tearDownWithError() throws {
    if let dir { try? FileManager.default.removeItem(at: dir) }
  }

  final class LineSink: @unchecked Sendable {
    var text = ""
    func append(_ s: String) { text += s }
  }

  /// A manifest of PNG files (no patient column) for domains A and B, one row naming a missing
  /// file (row 4); the spec uses it for both sides.
  func writeSpec(_ extra: String = "") throws -> StudySpec {
    var rows = ["path,label,domain"]
    for (i, (label, domain)) in [("n", "A"), ("m", "A"), ("n", "B"), ("m", "B")].enumerated() {
      for k in 0..<3 {
        let name = "img\(i)-\(k).png"
        rows.append("\(name),\(label),\(domain)")
        if i == 0 && k == 1 { rows.append("missing.png,n,A") }
      }
    }
    try rows.joined(separator: "\n").write(
      to: dir.appendingPathComponent("sites.csv"), atomically: true, encoding: .utf8)
    let yaml = """
      name: bad-data
      data:
        source: {manifest: sites.csv, domain: A}
        targets: [{manifest: sites.csv, domain: B}]
      \(extra)
      arms: [linear-probe]
      budgets: [2]
      seeds: 1
      shift: {analyses: []}
      """
    let file = dir.appendingPathComponent("bad-data.yaml")
    try yaml.write(to: file, atomically: true, encoding: .utf8)
    return try StudySpec.load(file: file.path)
  }

  func runner(_ spec: StudySpec, lines: LineSink) throws -> StudyRunner {
    let store = try StudyStore(directory: dir.appendingPathComponent("study"))
    let context = StudyContext(
      studyDirectory: store.directory, specDirectory: dir, cacheDirectory: dir)
    return StudyRunner(
      spec: spec, store: store, context: context,
      executor: RoutingExecutor([AdaptationExecutor(onBad: spec.badRowPolicy)]),
      progress: ProgressPrinter(write: { lines.append($0) }, isTerminal: false))
  }

  /// The manifest's files. Loading only checks that a PNG exists (it has no header to read);
  /// nothing here decodes them.
  func writeImages() throws {
    for i in 0..<4 {
      for k in 0..<3 {
        try Data("png".utf8).write(to: dir.appendingPathComponent("img\(i)-\(k).png"))
      }
    }
  }

  func testWhatTheDataLacksIsSaidOncePerStudyRun() throws {
    try writeImages()
    let spec = try writeSpec()
    let lines = LineSink()
    let runner = try self.runner(spec, lines: lines)
    let (preparation, _, _) = try runner.prepare()
    let said = lines.text.split(separator: "\n")
    // The one manifest behind both sides is checked once: one warning, one skipped row.
    XCTAssertEqual(
      said.filter { $0.contains("patients unknown for 12 of 12 images") }.count, 1,
      lines.text)
    XCTAssertEqual(
      said.filter { $0.contains("row 4 (missing.png): missingFile") }.count, 1,
      lines.text)
    XCTAssertTrue(preparation.environment["data.skipped_rows"]?.hasPrefix("1,") ?? false)
    let listFile = dir.appendingPathComponent("study/skipped-rows.txt")
    let listed = try String(contentsOf: listFile, encoding: .utf8)
    XCTAssertEqual(listed.split(separator: "\n").count, 1, listed)
    XCTAssertTrue(listed.contains("sites.csv: row 4 (missing.png): missingFile"), listed)
    // A second invocation (a resume) lists nothing twice.
    lines.text = ""
    _ = try runner.prepare()
    XCTAssertFalse(lines.text.contains("row 4 (missing.png)"), lines.text)
    XCTAssertTrue(lines.text.contains("1 skipped row(s) are listed in"), lines.text)
    XCTAssertEqual(try String(contentsOf: listFile, encoding: .utf8), listed)
    // A sharded worker prints nothing (its parent did).
    lines.text = ""
    _ = try runner.prepare(announce: false)
    XCTAssertEqual(lines.text, "")
  }

  func testOnBadFailStopsBeforeAnyRunNamingTheRowAndTheKey() throws {
    try writeImages()
    let spec = try writeSpec("  on_bad: fail")
    XCTAssertEqual(spec.onBad, .fail)
    XCTAssertThrowsError(try runner(spec, lines: LineSink()).prepare()) { error in
      let message = "\(error)"
      XCTAssertTrue(message.contains("row 4 (missing.png): missingFile"), message)
      XCTAssertTrue(message.contains("data.on_bad: skip"), message)
      XCTAssertFalse(message.contains("--on-bad"), message)
    }
  }

  /// The real `study run` on a phantom manifest with one corrupt DICOM file (found only when
  /// decoded): both runs finish without it, name its row in their notes, and the row is
  /// printed once.
  func testUndecodableImageIsSkippedByEveryRunAndPrintedOnce() throws {
    let data = dir.appendingPathComponent("phantom")
    let gen = try runMedtransfer([
      "dataset", "generate",
      packageRoot.appendingPathComponent("datasets/chest-ct-sites.yaml").path,
      "--out", data.path, "--per-class", "3", "--size", "32", "--seed", "5",
    ])
    XCTAssertEqual(gen.status, 0, gen.stderr)
    let manifest = try String(
      contentsOf: data.appendingPathComponent("manifest.csv"), encoding: .utf8)
    let lines = manifest.split(separator: "\n")
    let row = try XCTUnwrap(lines.firstIndex { $0.contains(",site-b,") }) + 1
    let path = String(lines[row - 1].split(separator: ",")[0])
    try Data("not a DICOM file".utf8).write(to: data.appendingPathComponent(path))
    let spec = dir.appendingPathComponent("corrupt.yaml")
    try """
    name: corrupt
    data:
      source: {manifest: phantom/manifest.csv, domain: site-a}
      targets: [{manifest: phantom/manifest.csv, domain: site-b}]
    input_size: 32
    arms: [linear-probe]
    budgets: [2]
    seeds: 2
    training: {epochs: 1, patience: 0, batch_size: 8}
    shift: {analyses: []}
    """.write(to: spec, atomically: true, encoding: .utf8)
    let study = dir.appendingPathComponent("study")
    let run = try runMedtransfer(["study", "run", spec.path, "--out", study.path, "--no-report"])
    XCTAssertEqual(run.status, 0, run.stderr)
    let said = run.stderr.split(separator: "\n").filter { $0.contains("row \(row) (\(path))") }
    XCTAssertEqual(said.count, 1, run.stderr)
    XCTAssertTrue(said.first?.contains("undecodable") ?? false, run.stderr)
    let store = try StudyStore(directory: study, create: false)
    let runs = try store.runs()
    XCTAssertEqual(runs.count, 2)
    for stored in runs {
      XCTAssertEqual(stored.status, .finished, stored.error ?? "")
      XCTAssertEqual(
        stored.result?.notes["skipped_rows"], "target rows \(row) (see skipped-rows.txt)")
    }
    let listed = try String(
      contentsOf: study.appendingPathComponent("skipped-rows.txt"), encoding: .utf8)
    XCTAssertEqual(listed.split(separator: "\n").count, 1, listed)
  }
}
