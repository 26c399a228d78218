import Foundation
import Interchange
import TestSupport
import XCTest

@testable import Reports
@testable import Studies

/// The report written from a fixture database: sections, numbers, JSON/DB agreement, rendering.
final class ReportWriterTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws {
    dir = try makeTemporaryDirectory("report-writer")
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: dir)
  }

  func testHTMLHasEverySectionWithTheExpectedNumbers() throws {
    try ReportFixture.make(in: dir)
    let files = try ReportWriter.write(studyDirectory: dir)
    let html = try String(contentsOf: files.html, encoding: .utf8)
    for title in [
      "1. Headline", "2. Learning curves", "3. Training curves", "4. Domain shift",
      "5. Adaptation and forgetting", "6. Calibration and subgroups", "7. Reproducibility",
    ] {
      XCTAssertTrue(html.contains(title), "missing section \(title)")
    }
    // Headline: full − scratch at 10 labels/class, paired over the 3 seeds.
    let d = (0..<3).map {
      ReportFixture.value("full", 10, seed: $0) - ReportFixture.value("scratch", 10, seed: $0)
    }
    let test = try XCTUnwrap(ReportStatistics.pairedTest(d, [0, 0, 0], confidence: 0.95))
    XCTAssertTrue(
      html.contains(
        "+\(fmt(test.difference, 3))</span> <span class=\"small\">[\(fmt(test.lower!, 3)), \(fmt(test.upper!, 3))]"
      ), "headline cell missing")
    XCTAssertTrue(
      html.contains(test.pValue! < 0.001 ? "p &lt; 0.001" : "p = \(fmt(test.pValue!, 3))"))
    // The failed run leaves one headline cell with 2 paired seeds: flagged; 3 seeds are not.
    XCTAssertTrue(html.contains("n=2: too few seeds to trust"))
    XCTAssertFalse(html.contains("n=3: too few seeds"))
    // The failed run is listed with its error; the shift table and header table are there.
    XCTAssertTrue(html.contains("train loss is nan at epoch 4"))
    XCTAssertTrue(html.contains("MMD² (RBF, median heuristic)"))
    // The setup names the input window policy and the windows each dataset's images got.
    XCTAssertTrue(
      html.contains("Input window <b>auto</b> (the file's own VOI window"), "window line")
    XCTAssertTrue(
      html.contains(
        "A: file window C -600 W 1500 · B: file window C -550 W 1600; per-image percentiles "
          + "p0.5–p99.5"), "windows per dataset")
    XCTAssertTrue(html.contains("B70f (sharp)"))
    XCTAssertTrue(html.contains("L2-SP trade-off"))
    // Forgetting split into weights and BatchNorm statistics: plain full at 10 labels forgets
    // 0.12 as deployed and 0.03 with source statistics, the same in every seed.
    XCTAssertTrue(html.contains("forgetting, with source BN statistics"))
    XCTAssertTrue(
      html.contains(">source BN statistics</text>"), "the trade-off chart's second series")
    XCTAssertTrue(
      html.contains("<td>0.880 → 0.850 <span class=\"muted small\">n=3</span></td><td>0.030 "),
      "the source-statistics columns are filled")
    XCTAssertTrue(html.contains("reliability"))
    // Self-contained: inline SVG, no script, no external resource.
    XCTAssertGreaterThanOrEqual(html.components(separatedBy: "<svg").count - 1, 8)
    XCTAssertFalse(html.contains("<script"))
    XCTAssertFalse(
      html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains(
        "http"))
    XCTAssertFalse(html.contains("nan</td>"))
    // CSV tables.
    XCTAssertEqual(
      Set(files.csv.map(\.lastPathComponent)),
      [
        "runs.csv", "headline.csv", "learning_curves.csv", "epochs.csv", "forgetting.csv",
        "shift.csv",
      ])
    let runsCSV = try String(
      contentsOf: files.csv.first { $0.lastPathComponent == "runs.csv" }!, encoding: .utf8)
    XCTAssertEqual(runsCSV.split(separator: "\n").count, 1 + 4 * 5 * 3 + 4 * 3)
  }

  /// Runs recorded before per-dataset windows (no window notes) all used the lung window: the
  /// report says so instead of claiming `auto`.
  func testRunsFromBeforeWindowsWereSelectableAreLabelledLungWindow() throws {
    try ReportFixture.make(in: dir, windowNotes: false)
    let html = try String(
      contentsOf: try ReportWriter.write(studyDirectory: dir).html, encoding: .utf8)
    XCTAssertTrue(html.contains("Input window <b>-600,1500</b> (every image"), "legacy window line")
    XCTAssertFalse(html.contains("Input window <b>auto</b>"))
  }

  func testReportJSONMatchesTheDatabase() throws {
    let store = try ReportFixture.make(in: dir)
    let files = try ReportWriter.write(studyDirectory: dir)
    let report = try JSONCoding.decoder().decode(
      StudyReport.self, from: Data(contentsOf: files.json))
    let rows = try store.query(
      """
      SELECT r.configHash AS hash, r.status AS status, f.metric AS metric, f.value AS value
      FROM run r LEFT JOIN finalMetric f ON f.runId = r.id AND f.dataset = 'target'
      WHERE r.isCurrent = 1
      """)
    XCTAssertEqual(Set(rows.compactMap { $0["hash"] ?? nil }).count, report.runs.count)
    var checked = 0
    for row in rows {
      guard let hash = row["hash"] ?? nil, let run = report.runs.first(where: { $0.hash == hash })
      else {
        XCTFail("run \(String(describing: row["hash"])) missing from report.json")
        continue
      }
      XCTAssertEqual(run.status, row["status"] ?? nil)
      guard let metric = row["metric"] ?? nil,
        let value = (row["value"] ?? nil).flatMap(Double.init),
        let result = run.result
      else { continue }
      let expected: Double? =
        switch metric {
        case "accuracy": result.target.accuracy
        case "balanced_accuracy": result.target.balancedAccuracy
        case "macro_f1": result.target.macroF1
        case "auroc": result.target.auroc?.value
        case "ece": result.target.ece
        case "count": Double(result.target.count)
        default: nil
        }
      XCTAssertEqual(expected ?? .nan, value, accuracy: 1e-12, "\(metric) of \(hash)")
      checked += 1
    }
    XCTAssertEqual(checked, (report.runs.count - 1) * 6)
    XCTAssertEqual(report.failedRuns.count, 1)
    XCTAssertEqual(report.shift.first, ReportFixture.shift)
    XCTAssertEqual(report.totalComputeSeconds, try store.totalComputeSeconds(), accuracy: 1e-9)
    // The headline row for full at 25 labels has 2 pairs (seed 2 failed).
    XCTAssertEqual(
      report.headline.first { $0.arm == "full" && $0.budget == "25" }?.difference?.n, 2)
    // …so "labels scratch needs" gives no number there; at 10 labels (3 pairs, CI above 0) it
    // does: full ≈ 0.63 at 10 labels, which scratch only passes beyond 100 labels/class.
    let match = { (budget: String) in
      report.labelsToMatch.first { $0.arm == "full" && $0.budget == budget }
    }
    XCTAssertEqual(match("25")?.note, StudyReport.notSignificant)
    XCTAssertNil(match("25")?.scratchLabelsNeeded)
    XCTAssertEqual(match("10")?.note, "reached")
    XCTAssertGreaterThan(
      match("10")?.scratchLabelsNeeded ?? 0, 100, "\(String(describing: match("10")))")
  }

  /// Every mean over seeds adds its terms in seed order, so a report regenerated in another
  /// process has the same bits. (Summed in a Dictionary's order, which differs from process to
  /// process, the quickstart's means moved in their last bit between two regenerations; this
  /// fails in the processes where that order is not the seeds'.)
  func testMeansOverSeedsAddInSeedOrder() throws {
    let store = try ReportFixture.make(in: dir)
    let report = try StudyReport.build(from: store)
    let runs = try store.runs().filter { $0.status == .finished }
    var checked = 0
    for row in report.headline {
      let values = runs.filter {
        $0.config.target.label == row.target && $0.config.arm.name == row.arm
          && $0.config.budget.description == row.budget
      }.sorted { $0.config.seed < $1.config.seed }.compactMap { $0.result?.target.balancedAccuracy }
      guard values.count >= 3, let mean = row.transfer?.mean else { continue }
      let expected = ReportStatistics.meanInterval(values, confidence: 0.95)?.mean
      XCTAssertEqual(mean, expected, "\(row.arm) at \(row.budget): \(values)")
      checked += 1
    }
    XCTAssertGreaterThan(checked, 3)
  }

  /// Renders the fixture report in headless Chromium (Debian `chromium`, installed by
  /// scripts/bootstrap) and keeps the screenshot in .build/report-screenshots/ for a human look.
  func testChromiumRendersTheReport() throws {
    try ReportFixture.make(in: dir)
    let files = try ReportWriter.write(studyDirectory: dir)
    try screenshot(files.html, as: "fixture")
  }

  /// The reports of real studies committed under Reports/ (written by `medtransfer study run`
  /// on this machine) render too: what a researcher opens first.
  func testChromiumRendersTheCommittedStudyReports() throws {
    let reports = packageRoot.appendingPathComponent("Reports")
    let pages = try FileManager.default.contentsOfDirectory(atPath: reports.path).sorted()
      .map { reports.appendingPathComponent($0).appendingPathComponent("index.html") }
      .filter { FileManager.default.fileExists(atPath: $0.path) }
    XCTAssertFalse(pages.isEmpty, "no committed study report under Reports/")
    for page in pages {
      let html = try String(contentsOf: page, encoding: .utf8)
      XCTAssertTrue(html.contains("1. Headline"), page.path)
      XCTAssertFalse(html.contains("<script"), page.path)
      try screenshot(page, as: page.deletingLastPathComponent().lastPathComponent)
    }
  }

  /// Headless Chromium screenshot of `page` into .build/report-screenshots/NAME.png; checks the
  /// page rendered (a PNG well above a blank page's size).
  func screenshot(_ page: URL, as name: String, file: StaticString = #filePath, line: UInt = #line)
    throws
  {
    guard
      let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: {
        FileManager.default.isExecutableFile(atPath: $0)
      })
    else {
      throw XCTSkip("chromium is not installed; run scripts/bootstrap")
    }
    let out = packageRoot.appendingPathComponent(".build/report-screenshots")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    let png = out.appendingPathComponent("\(name).png")
    try? FileManager.default.removeItem(at: png)
    let result = try runProcess(
      chromium,
      [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--user-data-dir=\(dir.appendingPathComponent("chromium-\(name)").path)",
        "--screenshot=\(png.path)", "--window-size=1280,9000", page.absoluteString,
      ])
    XCTAssertEqual(result.status, 0, "\(name): \(result.output)", file: file, line: line)
    let data = try Data(contentsOf: png)
    XCTAssertEqual(
      Array(data.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "\(name): not a PNG", file: file, line: line)
    XCTAssertGreaterThan(
      data.count, 50_000, "\(name): the page rendered (nearly) empty", file: file, line: line)
  }
}

/// Runs a process and returns its status and combined output.
func runProcess(_ executable: String, _ arguments: [String]) throws -> (
  status: Int32, output: String
) {
  let out = ExternalCommand.run(arguments, executable: URL(fileURLWithPath: executable))
  return (out.status, out.stdout + out.stderr)
}
