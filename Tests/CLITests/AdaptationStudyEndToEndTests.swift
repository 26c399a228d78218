import Foundation
import TestSupport
import XCTest

@testable import Studies

/// The real `medtransfer study run` on a tiny phantom study through the Adaptation executor:
/// phantom rendered into the cache, real training of two network arms, shift analysis, report.
final class AdaptationStudyEndToEndTests: XCTestCase {
  func testTinyPhantomStudyTrainsEveryRunAndWritesTheReport() throws {
    let generator = phantomSpec
    try skipUnlessLite0IsCached()
    let dir = try makeTemporaryDirectory("studies-e2e")
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = dir.appendingPathComponent("tiny.yaml")
    try """
    name: tiny
    data:
      source: {generator: \(generator.path), site: site-a}
      targets: [{generator: \(generator.path), site: site-b}, {generator: \(generator.path), site: site-c}]
    backbone: efficientnet-lite0
    input_size: 32
    arms: [baseline:majority-class, scratch, full+l2sp(0.1)]
    budgets: [4]
    seeds: 1
    training:
      epochs: 2
      patience: 0
      batch_size: 8
      optimizer: adamw
      learning_rate: 0.001
      source_epochs: 1
      options: {phantom_per_class: 16, phantom_size: 48}
    shift: {analyses: [mmd, intensity, headers, embedding], permutations: 50, bootstrap: 50, max_images: 40}
    """.write(to: spec, atomically: true, encoding: .utf8)
    let studyDir = dir.appendingPathComponent("study")
    let run = try runMedtransfer(["study", "run", spec.path, "--out", studyDir.path])
    XCTAssertEqual(run.status, 0, run.stderr)

    let store = try StudyStore(directory: studyDir, create: false)
    let runs = try store.runs()
    XCTAssertEqual(runs.count, 6)
    for stored in runs {
      XCTAssertEqual(stored.status, .finished, "\(stored.config.label): \(stored.error ?? "")")
      let result = try XCTUnwrap(stored.result)
      XCTAssertGreaterThan(result.target.count, 0)
      if !stored.config.arm.isBaseline {
        XCTAssertEqual(result.epochs.count, 2, stored.config.label)
        XCTAssertEqual(result.trainImages, 16, stored.config.label)  // 4 classes × 4 labels
        XCTAssertFalse(result.target.reliability.isEmpty)
        XCTAssertFalse(result.forgetting?.stageDistances.isEmpty ?? true)
        XCTAssertNotNil(result.source)
        // The source phase's model, scored on both test sets before adaptation: black-box
        // shift detection on its class probabilities.
        let bbsd = try XCTUnwrap(result.forgetting?.sourceModelShift, stored.config.label)
        XCTAssertTrue(bbsd.pValue > 0 && bbsd.pValue <= 1, "\(bbsd.pValue)")
        for confidence in [bbsd.sourceMeanConfidence, bbsd.targetMeanConfidence] {
          // 4 classes: the mean top-label confidence is at least 1/4.
          XCTAssertTrue(confidence >= 0.25 - 1e-6 && confidence <= 1 + 1e-6, "\(confidence)")
        }
        XCTAssertEqual(
          bbsd.confidenceDrop, bbsd.sourceMeanConfidence - bbsd.targetMeanConfidence,
          accuracy: 1e-12)
        XCTAssertEqual(bbsd.sourceCount, result.source?.count)
        XCTAssertEqual(bbsd.targetCount, result.target.count)
      }
    }
    let shift = try store.shiftResults()
    XCTAssertEqual(shift.count, 2)
    XCTAssertTrue(shift.first?.metrics.contains { $0.name.hasPrefix("MMD") } ?? false)
    // The report adds the transfer arm's source model view and its drop to each pair.
    let report = try XCTUnwrap(
      JSONSerialization.jsonObject(
        with: Data(contentsOf: studyDir.appendingPathComponent("report.json"))) as? [String: Any])
    let pairs = try XCTUnwrap(report["shift"] as? [[String: Any]])
    XCTAssertEqual(pairs.count, 2)
    for pair in pairs {
      let names = (pair["metrics"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
      XCTAssertTrue(names.contains("MMD², source model's class probabilities"), "\(names)")
      XCTAssertTrue(names.contains("confidence drop, source model"), "\(names)")
      XCTAssertNotNil(pair["accuracyDrop"] as? Double, "\(pair.keys)")
    }

    let html = try String(
      contentsOf: studyDir.appendingPathComponent("index.html"), encoding: .utf8)
    for section in [
      "Headline: does transfer beat scratch?", "Learning curves", "Training curves",
      "Domain shift", "Calibration and subgroups", "Reproducibility",
    ] {
      XCTAssertTrue(html.contains(section), "index.html lacks \(section)")
    }
    XCTAssertTrue(
      html.contains("Shift distance vs the source model&#39;s drop")
        || html.contains("Shift distance vs the source model's drop"), "no distance-vs-drop chart")

    // shift.analyses chooses what is computed, and everything chosen reaches the store, the
    // CSV, report.json and the HTML: intensity rows are there, proxy A-distance (not asked
    // for) is not.
    let names = try store.shiftResults().flatMap { $0.metrics.map(\.name) }
    XCTAssertTrue(names.contains("intensity mean: KS D"), "\(names)")
    XCTAssertTrue(names.contains("intensity mean: Wasserstein"), "\(names)")
    XCTAssertFalse(names.contains { $0.hasPrefix("proxy A-distance") || $0.hasPrefix("Fréchet") })
    let csv = try String(
      contentsOf: studyDir.appendingPathComponent("csv/shift.csv"), encoding: .utf8)
    let json = try String(
      contentsOf: studyDir.appendingPathComponent("report.json"), encoding: .utf8)
    for (name, text) in [("shift.csv", csv), ("report.json", json), ("index.html", html)] {
      XCTAssertTrue(text.contains("intensity mean: KS D"), "\(name) lacks the intensity KS row")
      XCTAssertFalse(text.contains("proxy A-distance"), "\(name) has an analysis not asked for")
    }
  }
}
