import Datasets
import Foundation
import Randomness
import ScanIO
import TestSupport
import XCTest

@testable import Adaptation

/// The frozen-backbone arms read their features from a `FeatureStore` after the first run that
/// computed them, and get the same bits as a run that computes everything itself.
final class FeatureStoreTests: XCTestCase {
  var dir = URL(fileURLWithPath: "/")

  override func setUpWithError() throws { dir = try makeTemporaryDirectory("feature-store") }
  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  /// Sites A and B, 3 classes, 12×12 gray PNGs whose class is where a bright band sits (B's
  /// darker); per site and class 10 train, 4 val and 4 test images, one patient each.
  func writeData() throws -> String {
    var csv = "path,label,domain,patient,split\n"
    var g = SeededGenerator(seed: 11)
    for site in ["A", "B"] {
      for label in 0..<3 {
        for i in 0..<18 {
          let split = i < 10 ? "train" : i < 14 ? "val" : "test"
          var pixels: [UInt8] = []
          for y in 0..<12 {
            for x in 0..<12 {
              let band = x / 4 == label && y >= 3 && y < 9 ? 150 : 40
              let offset = site == "A" ? 40 : 0
              pixels.append(UInt8(band + offset + Int(g.next() % 50)))
            }
          }
          let path = "\(site)/\(label)/\(i).png"
          try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("\(site)/\(label)"), withIntermediateDirectories: true)
          try PNGImage(width: 12, height: 12, channels: .gray, pixels: pixels)
            .write(path: dir.appendingPathComponent(path).path)
          csv += "\(path),c\(label),\(site),\(site)-\(label)-\(i),\(split)\n"
        }
      }
    }
    let manifest = dir.appendingPathComponent("manifest.csv").path
    try csv.write(toFile: manifest, atomically: true, encoding: .utf8)
    return manifest
  }

  func configuration(_ strategy: Strategy, epochs: Int) -> TrainingConfiguration {
    var c = tinyConfiguration(strategy, epochs: epochs)
    c.logisticL2 = 1e-2
    return c
  }

  /// A source phase (full fine-tuning on A, so the frozen backbone is a trained one, not the
  /// factory's), then the arm on B's budget, scored on B's and A's test sets.
  func run(
    _ strategy: Strategy, labels: Int, manifest: String, store: FeatureStore?,
    adaBN: Bool = false
  ) throws -> SourceTargetResult {
    let source = try DataPreparation.prepare(
      DataRequest(source: manifest, domains: ["A"], inputSize: 8, seed: 3), channels: 1)
    let target = try DataPreparation.prepare(
      DataRequest(
        source: manifest, domains: ["B"], targetDomain: adaBN ? "B" : nil, inputSize: 8,
        labelsPerClass: labels, seed: 3), channels: 1)
    guard case .cached = target.data.train.storage else {
      throw XCTSkip("prepared sets are expected to stream from the tensor cache")
    }
    return try SourceTargetProtocol.run(
      SourceTargetConfiguration(
        source: configuration(.full, epochs: 2), adaBN: adaBN,
        fineTune: configuration(strategy, epochs: 3)),
      data: SourceTargetData(source: source.data, target: target.data),
      factory: { c, classes, channels in
        let model = try tinyFactory(c, classes, channels)
        model.featureStore = store
        return model
      })
  }

  /// Everything the report reads from a run, wall times aside.
  func assertSameResults(
    _ a: SourceTargetResult, _ b: SourceTargetResult, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(a.afterAdaptation.target, b.afterAdaptation.target, what, file: file, line: line)
    XCTAssertEqual(a.afterAdaptation.source, b.afterAdaptation.source, what, file: file, line: line)
    XCTAssertEqual(
      a.beforeAdaptation.target, b.beforeAdaptation.target, what, file: file, line: line)
    XCTAssertEqual(a.fineTuning?.test, b.fineTuning?.test, what, file: file, line: line)
    XCTAssertEqual(
      a.fineTuning?.bestValidationValue, b.fineTuning?.bestValidationValue, what, file: file,
      line: line)
    XCTAssertEqual(
      a.fineTuningEpochs.map(\.trainLoss), b.fineTuningEpochs.map(\.trainLoss), what, file: file,
      line: line)
    XCTAssertEqual(a.forgettingAccuracy, b.forgettingAccuracy, what, file: file, line: line)
    XCTAssertEqual(
      a.sourceWithOwnStatistics, b.sourceWithOwnStatistics, what, file: file, line: line)
    XCTAssertEqual(
      a.sourceBeforeWithOwnStatistics, b.sourceBeforeWithOwnStatistics, what, file: file,
      line: line)
    XCTAssertEqual(a.afterAdaBN?.target, b.afterAdaBN?.target, what, file: file, line: line)
  }

  /// Linear probe and features+logreg at two label budgets: computed, with a store that is
  /// empty (the first run fills it), and with the store the first pass filled. Equal bit for
  /// bit (the evaluation reports hold the predictions' SHA-256); the first pass already reuses
  /// sets (the test sets across budgets and arms), the second computes nothing.
  func testStoredFeaturesGiveTheBitsOfComputedOnes() throws {
    let manifest = try writeData()
    let store = FeatureStore(directory: dir.appendingPathComponent("features"))
    for strategy in [Strategy.linearProbe, .featuresLogReg] {
      for labels in [3, 8] {
        let computed = try run(strategy, labels: labels, manifest: manifest, store: nil)
        let filling = try run(strategy, labels: labels, manifest: manifest, store: store)
        assertSameResults(computed, filling, "\(strategy) at \(labels) labels, filling")
      }
    }
    let filled = store.statistics
    XCTAssertGreaterThan(filled.computed, 0)
    XCTAssertGreaterThan(filled.reused, 0, "the second budget and arm reused nothing")
    for strategy in [Strategy.linearProbe, .featuresLogReg] {
      for labels in [3, 8] {
        let computed = try run(strategy, labels: labels, manifest: manifest, store: nil)
        let stored = try run(strategy, labels: labels, manifest: manifest, store: store)
        assertSameResults(computed, stored, "\(strategy) at \(labels) labels, stored")
      }
    }
    XCTAssertEqual(store.statistics.computed, filled.computed, "a filled store computed again")
    // One file per (backbone state, image set): under the source model's backbone (the same
    // in every run, trained from the same seed) and under that backbone with BatchNorm
    // statistics re-estimated on A (how the protocol scores A with its own statistics). And
    // the whole source model's scores before adaptation, under its two whole-model states.
    let folder = dir.appendingPathComponent("features")
    let states = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    XCTAssertEqual(states.count, 4, "\(states)")
    let files = try states.flatMap { state in
      try FileManager.default.contentsOfDirectory(
        atPath: folder.appendingPathComponent(state).path
      ).map { "\(state)/\($0)" }
    }
    XCTAssertFalse(files.contains { $0.hasSuffix(".partial") }, "\(files)")
    // B's test and validation sets, A's test set, and B's train set at each budget; and the
    // source model's BatchNorm statistics re-estimated on A's train set.
    // A's and B's test sets scored by the source model, and A's scored with its own
    // statistics: three prediction sets, read back by every later run.
    let statistics = files.filter { $0.contains("/adabn-") }
    let predictions = files.filter { $0.contains("/predictions-") }
    XCTAssertEqual(files.count - statistics.count - predictions.count, 6, "\(files)")
    XCTAssertEqual(statistics.count, 1, "\(files)")
    XCTAssertEqual(predictions.count, 3, "\(files)")
    XCTAssertGreaterThan(store.predictionsReused, 0)
  }

  /// AdaBN's re-estimated statistics are stored too: the runs of a seed re-estimate the same
  /// source model on the same images (to score the source with its own statistics), and the
  /// adabn arm the same target images at every budget. Read back, they give the same bits.
  func testStoredBatchNormStatisticsGiveTheBitsOfComputedOnes() throws {
    let manifest = try writeData()
    let store = FeatureStore(directory: dir.appendingPathComponent("features"))
    for (strategy, labels) in [(Strategy.full, 3), (.linearProbe, 3), (.linearProbe, 8)] {
      let computed = try run(strategy, labels: labels, manifest: manifest, store: nil, adaBN: true)
      let stored = try run(strategy, labels: labels, manifest: manifest, store: store, adaBN: true)
      XCTAssertNotNil(stored.afterAdaBN)
      XCTAssertNotNil(stored.sourceWithOwnStatistics)
      assertSameResults(computed, stored, "\(strategy) at \(labels) labels with AdaBN")
    }
    // The full run stores the source model's statistics on A and on B's unlabelled images;
    // the linear probes read both, and a frozen backbone's A statistics after training.
    XCTAssertGreaterThanOrEqual(store.statisticsReused, 4)
  }

  /// A fine-tuned backbone's features never go through the store (they change every step),
  /// only its shared scores before adaptation do; a truncated stored set is computed again
  /// rather than read.
  func testTrainedBackbonesAndBadRowsAreComputed() throws {
    let manifest = try writeData()
    let store = FeatureStore(directory: dir.appendingPathComponent("features"))
    let computed = try run(.full, labels: 3, manifest: manifest, store: nil)
    let viaStore = try run(.full, labels: 3, manifest: manifest, store: store)
    assertSameResults(computed, viaStore, "full")
    XCTAssertEqual(store.statistics.computed + store.statistics.reused, 0)
    // Its scores before adaptation are the source model's, shared with every other arm and
    // budget: another budget reads them back (source test, target test, and the source test
    // with its own statistics) and equals a run without the store.
    XCTAssertEqual(store.predictionsReused, 0)
    let otherBudget = try run(.full, labels: 8, manifest: manifest, store: store)
    XCTAssertEqual(store.predictionsReused, 3)
    assertSameResults(
      try run(.full, labels: 8, manifest: manifest, store: nil), otherBudget, "full, 8 labels")

    _ = try run(.linearProbe, labels: 3, manifest: manifest, store: store)
    let folder = dir.appendingPathComponent("features")
    for state in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
      for file in try FileManager.default.contentsOfDirectory(
        atPath: folder.appendingPathComponent(state).path)
      {
        let url = folder.appendingPathComponent("\(state)/\(file)")
        var bytes = try Data(contentsOf: url)
        bytes.removeLast(4)
        try bytes.write(to: url)
      }
    }
    let before = store.statistics.computed
    let again = try run(.linearProbe, labels: 3, manifest: manifest, store: store)
    XCTAssertEqual(
      store.statistics.computed - before, before, "truncated sets were read instead of recomputed")
    assertSameResults(
      try run(.linearProbe, labels: 3, manifest: manifest, store: nil), again, "after repair")
  }

  /// A stored set holds its file open: removing the store's folder while a run reads the set
  /// (another process cleaning it, a user deleting `features/`) leaves its rows readable, the
  /// same bits as computed ones; the next request computes and stores the set again.
  func testStoredRowsOutliveTheirFile() throws {
    let manifest = try writeData()
    let prepared = try DataPreparation.prepare(
      DataRequest(source: manifest, domains: ["A"], inputSize: 8, seed: 3), channels: 1)
    let set = try XCTUnwrap(prepared.data.test)
    let model = try tinyFactory(configuration(.linearProbe, epochs: 1), 3, 1)
    let computed = model.computeFeatures(set, batchSize: 64).features
    let folder = dir.appendingPathComponent("features")
    model.featureStore = FeatureStore(directory: folder)
    let stored = model.extractFeatures(set)
    guard case .stored = stored.storage else { return XCTFail("the set was not stored") }
    try FileManager.default.removeItem(at: folder)
    XCTAssertEqual(stored.features, computed)
    let d = model.featureDimension
    XCTAssertEqual(stored.batch([5, 0]).array, Array(computed[5 * d..<6 * d] + computed[0..<d]))
    let again = model.extractFeatures(set)
    XCTAssertEqual(again.features, computed)
    XCTAssertEqual(model.featureStore?.statistics.computed, 2 * set.count)
  }
}
