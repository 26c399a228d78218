import Foundation
import TestSupport
import XCTest

@testable import Studies

/// The runner and store with the real majority-class baseline on small manifests.
final class StudyRunnerTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws {
    dir = try makeTemporaryDirectory("studies-runner")
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: dir)
  }

  /// Site A: train 30 normal / 10 nodule, test 12 / 8. Site B: train 6 normal / 20 nodule,
  /// test 5 / 15 with two sexes… as a `domain` column; site C: no test rows (a run that fails).
  func writeManifests() throws {
    // A patient per image (named, so the loader reads no headers from these empty files).
    var rows = ["path,label,domain,split,patient"]
    func add(_ n: Int, _ label: String, _ domain: String, _ split: String) {
      for i in 0..<n {
        let path = "\(domain)/\(label)/\(split)\(i).dcm"
        rows.append("\(path),\(label),\(domain),\(split),\(path)")
        try? createEmptyFiles([path], in: dir)
      }
    }
    add(30, "normal", "A", "train")
    add(10, "nodule", "A", "train")
    add(12, "normal", "A", "test")
    add(8, "nodule", "A", "test")
    add(6, "normal", "B", "train")
    add(20, "nodule", "B", "train")
    add(5, "normal", "B", "test")
    add(15, "nodule", "B", "test")
    add(4, "normal", "C", "train")
    add(4, "nodule", "C", "train")
    try rows.joined(separator: "\n").write(
      to: dir.appendingPathComponent("sites.csv"), atomically: true, encoding: .utf8)
  }

  func spec(_ extra: String = "", targets: String = "[{manifest: sites.csv, domain: B}]") throws
    -> StudySpec
  {
    let yaml = """
      name: tiny
      data:
        source: {manifest: sites.csv, domain: A}
        targets: \(targets)
      arms: [baseline:majority-class]
      budgets: [5, 10, all]
      seeds: 2
      shift: {analyses: []}
      \(extra)
      """
    try yaml.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
    return try StudySpec.load(file: dir.appendingPathComponent("tiny.yaml").path)
  }

  func runner(_ spec: StudySpec, lines: LineSink = LineSink()) throws -> StudyRunner {
    let store = try StudyStore(directory: dir.appendingPathComponent("study"))
    let context = StudyContext(
      studyDirectory: store.directory, specDirectory: dir, cacheDirectory: dir)
    return StudyRunner(
      spec: spec, store: store, context: context, executor: RoutingExecutor([BaselineExecutor()]),
      progress: ProgressPrinter(write: { lines.append($0) }, isTerminal: false))
  }

  final class LineSink: @unchecked Sendable {
    var text = ""
    func append(_ s: String) { text += s }
  }

  func testMajorityClassMetricsAreClosedForm() throws {
    try writeManifests()
    let lines = LineSink()
    let summary = try runner(try spec(), lines: lines).run()
    XCTAssertEqual(
      summary,
      .init(total: 6, skipped: 0, finished: 6, failed: 0, previouslyFailed: 0, shiftAnalyses: 0))
    let store = try StudyStore(directory: dir.appendingPathComponent("study"), create: false)
    let runs = try store.runs()
    XCTAssertEqual(runs.count, 6)
    XCTAssertTrue(runs.allSatisfy { $0.status == .finished })
    // Budget 5 and 10: both classes capped equally → tie → first class name ("nodule").
    // Budget all: 20 nodule vs 6 normal → "nodule". Target B test: 15 of 20 are nodules.
    for run in runs {
      let r = try XCTUnwrap(run.result)
      XCTAssertEqual(r.notes["predicted_class"], "nodule")
      XCTAssertEqual(r.target.accuracy, 0.75, accuracy: 1e-12)
      XCTAssertEqual(r.target.balancedAccuracy, 0.5, accuracy: 1e-12)
      // F1(nodule) = 2·0.75/(1.75); macro over 2 classes.
      XCTAssertEqual(r.target.macroF1, (2 * 0.75 / 1.75) / 2, accuracy: 1e-12)
      XCTAssertEqual(r.target.confusion ?? [], [[15, 0], [5, 0]])
      XCTAssertEqual(r.source?.accuracy ?? -1, 8.0 / 20, accuracy: 1e-12)
      // Training counts after the budget cap: 5 → (5, 5), 10 → (6, 10), all → (6, 20).
      let (normal, nodule) = [
        LabelBudget.perClass(5): (5.0, 5.0), .perClass(10): (6, 10), .all: (6, 20),
      ][run.config.budget]!
      // Scored like every arm, from Float32 probabilities (the prior rounded to Float).
      let prior = Double(Float(nodule / (normal + nodule)))
      XCTAssertEqual(r.target.ece ?? -1, abs(prior - 0.75), accuracy: 1e-12)
      XCTAssertEqual(r.trainImages, Int(normal + nodule))
    }
    // Progress: one line per finished run plus a bar with an ETA.
    XCTAssertEqual(
      lines.text.components(separatedBy: "\n").filter {
        $0.hasPrefix("[") && $0.contains("target balanced accuracy")
      }.count, 6)
    XCTAssertTrue(lines.text.contains("ETA"), lines.text)
    // Normalised tables match the JSON result.
    let rows = try store.query(
      "SELECT r.configHash, f.value FROM finalMetric f JOIN run r ON r.id = f.runId "
        + "WHERE f.dataset = 'target' AND f.metric = 'accuracy'")
    XCTAssertEqual(rows.count, 6)
    XCTAssertTrue(rows.allSatisfy { Double(($0["value"] ?? nil) ?? "") == 0.75 })
  }

  func testRerunSkipsFinishedAndRedoesInterruptedRuns() throws {
    try writeManifests()
    let s = try spec()
    try runner(s).run()
    let store = try StudyStore(directory: dir.appendingPathComponent("study"))
    // Simulate a process killed mid-run: one run left `running` with no result file.
    let victim = try store.runs()[3]
    try store.markRunning(hash: victim.hash)
    try FileManager.default.removeItem(
      at: RunResultFile.url(hash: victim.hash, in: dir.appendingPathComponent("study")))
    let again = try runner(s).run()
    XCTAssertEqual(again.skipped, 5)
    XCTAssertEqual(again.finished, 1)
    let runs = try store.runs()
    XCTAssertEqual(runs.count, 6)
    XCTAssertTrue(runs.allSatisfy { $0.status == .finished })
    XCTAssertEqual(runs.first { $0.hash == victim.hash }?.attempts, 3)
    // A run whose file was written but not imported (killed in between) is imported, not
    // run again.
    let orphan = runs[1]
    try store.markRunning(hash: orphan.hash)
    let third = try runner(s).run()
    XCTAssertEqual(third.skipped, 6)
    XCTAssertEqual(third.finished, 0)
    XCTAssertEqual(try store.runs().first { $0.hash == orphan.hash }?.status, .finished)
    // Exactly one set of final metrics per run.
    let counts = try store.query(
      "SELECT runId, COUNT(*) AS n FROM finalMetric WHERE dataset = 'target' GROUP BY runId")
    XCTAssertEqual(counts.count, 6)
    XCTAssertTrue(counts.allSatisfy { $0["n"] == "6" }, "\(counts)")
  }

  func testAClaimedRunCannotBeClaimedAgainUntilReset() throws {
    try writeManifests()
    let r = try runner(try spec())
    try r.prepare()
    let hash = try r.store.runs()[0].hash
    XCTAssertTrue(try r.store.claim(hash: hash, includeFailed: false))
    XCTAssertFalse(try r.store.claim(hash: hash, includeFailed: false), "claimed twice")
    try r.store.resetInterrupted()  // what --workers does for runs a killed worker left running
    XCTAssertTrue(try r.store.claim(hash: hash, includeFailed: false))
    XCTAssertEqual(try r.store.runs()[0].attempts, 2)
  }

  func testChangedSpecDoesNotReuseResults() throws {
    try writeManifests()
    try runner(try spec()).run()
    // A different training setting changes every hash: nothing is reused; old runs go stale.
    let changed = try runner(try spec("training: {epochs: 3}")).run()
    XCTAssertEqual(changed.skipped, 0)
    XCTAssertEqual(changed.finished, 6)
    let store = try StudyStore(directory: dir.appendingPathComponent("study"))
    XCTAssertEqual(try store.runs().count, 6)
    XCTAssertEqual(try store.staleRunCount(), 6)
    // A changed manifest changes the data hash: nothing is reused either.
    let manifest = dir.appendingPathComponent("sites.csv")
    try (try String(contentsOf: manifest, encoding: .utf8) + "\nB/x.dcm,normal,B,test,B/x.dcm")
      .write(to: manifest, atomically: true, encoding: .utf8)
    try createEmptyFiles(["B/x.dcm"], in: dir)
    let afterEdit = try runner(try spec("training: {epochs: 3}")).run()
    XCTAssertEqual(afterEdit.skipped, 0)
    XCTAssertEqual(afterEdit.finished, 6)
  }

  func testFailedRunsAreRecordedAndTheStudyGoesOn() throws {
    try writeManifests()
    let s = try spec(
      targets: "[{manifest: sites.csv, domain: C}, {manifest: sites.csv, domain: B}]")
    let summary = try runner(s).run()
    XCTAssertEqual(summary.failed, 6)
    XCTAssertEqual(summary.finished, 6)
    let store = try StudyStore(directory: dir.appendingPathComponent("study"))
    let failed = try store.runs().filter { $0.status == .failed }
    XCTAssertEqual(failed.count, 6)
    XCTAssertTrue(
      failed.allSatisfy {
        $0.config.target.site == "C" && $0.error?.contains("no test images for C") == true
      })
    // Failed runs are not retried unless asked.
    let again = try runner(s).run()
    XCTAssertEqual(again.previouslyFailed, 6)
    XCTAssertEqual(again.failed, 0)
    let retried = try runner(s).run(retryFailed: true)
    XCTAssertEqual(retried.failed, 6)
    XCTAssertEqual(try store.runs().first { $0.status == .failed }?.attempts, 2)
  }

  func testArmsWithoutAnExecutorAreRejectedBeforeAnythingRuns() throws {
    try writeManifests()
    let s = try spec().with(arms: ["scratch", "baseline:majority-class"])
    XCTAssertThrowsError(try runner(s).run()) { error in
      XCTAssertTrue("\(error)".contains("arm 'scratch' cannot run in this build"), "\(error)")
    }
    let store = try StudyStore(directory: dir.appendingPathComponent("study"))
    XCTAssertEqual(try store.runs().count, 0)
  }

  func testNonFiniteMetricsBecomeFailures() {
    func evaluation(accuracy: Double) -> EvaluationReport {
      LegacyRunResult.report(
        EvaluationMetrics(count: 1, accuracy: accuracy, balancedAccuracy: 0, macroF1: 0))
    }
    var r = RunResult(target: evaluation(accuracy: .nan), wallSeconds: 1, trainImages: 1)
    XCTAssertEqual(StudyTask.nonFinite(r), "target accuracy is nan (not a number)")
    r.targetEvaluation = evaluation(accuracy: 1)
    r.epochLogs = [
      LegacyRunResult.log(
        EpochRecord(epoch: 7, wallSeconds: 1, trainLoss: .infinity), monitor: r.monitor)
    ]
    XCTAssertEqual(StudyTask.nonFinite(r), "train loss is inf at epoch 7")
  }
}

extension StudySpec {
  func with(arms names: [String]) throws -> StudySpec {
    var s = self
    s.arms = try names.map { try ArmSpec.parse($0).get() }
    return s
  }
}

extension ArmParseError: CustomStringConvertible {
  public var description: String { reason }
}
