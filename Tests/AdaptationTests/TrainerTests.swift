import Foundation
import Interchange
import Neural
import TestSupport
import XCTest

@testable import Adaptation

final class TrainerTests: XCTestCase {
  private func config(_ strategy: Strategy = .full, epochs: Int = 3) -> TrainingConfiguration {
    tinyConfiguration(strategy, epochs: epochs)
  }

  /// A non-finite loss stops the run with the error in its summary, not a crash.
  func testNonFiniteLossFailsTheRunWithAClearError() throws {
    let model = makeTinyModel()
    try model.apply(.full)
    model.head.weight.value[0] = .infinity
    let trainer = Trainer(model: model, configuration: config(), penalty: WeightPenalty(terms: []))
    let outcome = try trainer.fit(train: makeTinyImages(16), validation: nil)
    XCTAssertEqual(outcome.summary.status, .failed)
    XCTAssertEqual(outcome.summary.epochsRun, 1)
    XCTAssertTrue(
      outcome.summary.error?.contains("training loss became") ?? false,
      outcome.summary.error ?? "no error")
    XCTAssertTrue(outcome.epochs.isEmpty)
  }

  /// The run learns the toy task, writes its files, and a resumed run continues where the
  /// last checkpoint left off with one metrics line per epoch.
  func testRunFolderAndResume() throws {
    let dir = try makeTemporaryDirectory("adaptation-run")
    defer { try? FileManager.default.removeItem(at: dir) }
    let runDir = try RunDirectory(dir)
    var c = config(epochs: 2)
    let data = RunData(
      train: makeTinyImages(36), validation: makeTinyImages(18, seed: 11),
      test: makeTinyImages(30, seed: 12))
    let first = try SinglePhaseProtocol.run(
      configuration: c, data: data, factory: tinyFactory, directory: runDir)
    XCTAssertEqual(runDir.readMetrics().map(\.epoch), [1, 2])
    XCTAssertNotNil(first.summary.test)
    for url in [runDir.bestCheckpointURL, runDir.resumeStateURL, runDir.summaryURL] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: url.path), url.lastPathComponent)
    }
    // "Kill" after epoch 2 and continue to epoch 5.
    c.epochs = 5
    let model = try tinyFactory(c, 3, 1)
    try model.apply(c.strategy)
    let trainer = Trainer(model: model, configuration: c, penalty: WeightPenalty(terms: []))
    trainer.runDirectory = runDir
    let resumed = try trainer.fit(train: data.train, validation: data.validation, resume: true)
    XCTAssertEqual(resumed.epochs.map(\.epoch), [1, 2, 3, 4, 5])
    XCTAssertEqual(runDir.readMetrics().map(\.epoch), [1, 2, 3, 4, 5])
    XCTAssertEqual(resumed.summary.epochsRun, 5)
    // The resumed run learned the task.
    let p = trainer.predict(data.test!)
    let report = Evaluator.classification(
      probabilities: p, labels: data.test!.labels,
      classes: data.test!.classes)
    XCTAssertGreaterThan(report.accuracy.value, 0.6)
  }

  /// A run interrupted after epoch 2 (its state written, as a kill there leaves it) and
  /// resumed ends bit for bit where an uninterrupted run ends: same weights, same BatchNorm
  /// statistics, same epoch records. AdamW moments, dropout, augmentation, early stopping and
  /// the best weights all matter here; before the optimizer state was saved the resumed
  /// weights differed.
  func testInterruptedAndResumedRunEqualsAnUninterruptedOne() throws {
    var c = config(epochs: 5)
    c.optimizer = .adamw
    c.dropout = 0.3
    c.patience = 10
    let train = makeTinyImages(36)
    let validation = makeTinyImages(18, seed: 11)
    let augment: (Tensor, UInt64) -> Void = { batch, seed in
      // A seeded, step-dependent perturbation standing in for Datasets' augmentation.
      for i in 0..<batch.count { batch[i] += Float((seed &+ UInt64(i)) % 7) * 1e-3 }
    }
    func trainer(_ dir: RunDirectory) throws -> Trainer {
      let model = try tinyFactory(c, 3, 1)
      try model.apply(c.strategy)
      let t = Trainer(model: model, configuration: c, penalty: model.penalty(.l2sp()))
      t.runDirectory = dir
      t.augmentation = augment
      return t
    }
    let base = try makeTemporaryDirectory("adaptation-resume-exact")
    defer { try? FileManager.default.removeItem(at: base) }
    let straight = try trainer(try RunDirectory(base.appendingPathComponent("straight")))
    let reference = try straight.fit(train: train, validation: validation)

    let dir = try RunDirectory(base.appendingPathComponent("killed"))
    let killed = try trainer(dir)
    killed.interruptAfterEpoch = 2
    XCTAssertThrowsError(try killed.fit(train: train, validation: validation))
    let again = try trainer(dir)
    let resumed = try again.fit(train: train, validation: validation, resume: true)

    XCTAssertEqual(
      again.model.stateSnapshot(), straight.model.stateSnapshot(),
      "resumed weights differ from the uninterrupted run's")
    XCTAssertEqual(resumed.epochs.map(\.validation), reference.epochs.map(\.validation))
    XCTAssertEqual(resumed.epochs.map(\.trainLoss), reference.epochs.map(\.trainLoss))
    XCTAssertEqual(resumed.summary.bestEpoch, reference.summary.bestEpoch)
    XCTAssertEqual(dir.readMetrics().map(\.epoch), [1, 2, 3, 4, 5])
  }

  /// Early stopping ends the run and the best epoch's weights are kept.
  func testEarlyStoppingKeepsTheBestEpoch() throws {
    var c = config(epochs: 30)
    c.patience = 2
    c.learningRate = 0.3  // noisy on purpose so validation stops improving
    let model = makeTinyModel()
    try model.apply(.full)
    let trainer = Trainer(model: model, configuration: c, penalty: WeightPenalty(terms: []))
    let out = try trainer.fit(train: makeTinyImages(24), validation: makeTinyImages(12, seed: 5))
    XCTAssertEqual(out.summary.status, .stoppedEarly)
    XCTAssertEqual(out.summary.epochsRun, out.summary.bestEpoch + 2)
    let best = out.epochs.first { $0.epoch == out.summary.bestEpoch }!
    let p = trainer.predict(makeTinyImages(12, seed: 5))
    let now = Evaluator.validation(
      probabilities: p, labels: makeTinyImages(12, seed: 5).labels,
      classes: 3)
    XCTAssertEqual(now.balancedAccuracy, best.validation!.balancedAccuracy, accuracy: 1e-9)
  }

  /// CORAL with unlabelled target batches trains (finite loss) and reports its contribution.
  func testCORALTrainingRuns() throws {
    var c = config(epochs: 2)
    c.coralWeight = 1
    let model = makeTinyModel()
    try model.apply(.full)
    let trainer = Trainer(model: model, configuration: c, penalty: WeightPenalty(terms: []))
    let out = try trainer.fit(
      train: makeTinyImages(24), validation: nil,
      unlabelledTarget: makeTinyImages(24, seed: 8, shift: 1))
    XCTAssertEqual(out.summary.status, .completed)
    XCTAssertTrue(out.epochs.allSatisfy { $0.trainLoss > $0.trainCrossEntropy })
  }

  /// features+logreg deploys its fitted regression: after the source phase, the protocol's
  /// "after adaptation" scores are the regression's (not the source model's old head), they
  /// change with the target label budget, and the source test set is scored through the new
  /// head (forgetting).
  func testFeaturesLogRegIsWhatTheProtocolScores() throws {
    var source = config(epochs: 2)
    source.strategy = .scratch
    func run(labels: Int) throws -> SourceTargetResult {
      var tune = config(.featuresLogReg)
      tune.logisticL2 = 1e-2
      let target = makeTinyImages(60, seed: 4, shift: 1, domain: "B")
      let budgeted = target.subset(Array(0..<labels))
      let data = SourceTargetData(
        source: RunData(
          train: makeTinyImages(36, domain: "A"),
          test: makeTinyImages(18, seed: 3, domain: "A")),
        target: RunData(train: budgeted, test: makeTinyImages(30, seed: 6, shift: 1, domain: "B")))
      return try SourceTargetProtocol.run(
        SourceTargetConfiguration(source: source, adaBN: false, fineTune: tune), data: data,
        factory: tinyFactory)
    }
    let few = try run(labels: 9)
    let many = try run(labels: 60)
    for r in [few, many] {
      XCTAssertNotEqual(
        r.afterAdaptation.target.overall.predictionsSHA256,
        r.beforeAdaptation.target.overall.predictionsSHA256,
        "after adaptation scored the source model, not the regression")
      XCTAssertEqual(
        r.afterAdaptation.target, r.fineTuning?.test,
        "the run's test score and the protocol's target score differ")
      XCTAssertNotEqual(
        r.afterAdaptation.source?.overall.predictionsSHA256,
        r.beforeAdaptation.source?.overall.predictionsSHA256)
    }
    XCTAssertNotEqual(
      few.afterAdaptation.target.overall.predictionsSHA256,
      many.afterAdaptation.target.overall.predictionsSHA256,
      "the target score does not depend on the label budget")
    XCTAssertGreaterThan(many.afterAdaptation.target.overall.accuracy.value, 0.6)
  }

  /// features+logreg fits a logistic regression on frozen features into the head: the
  /// backbone does not move, the head does.
  func testFeaturesLogisticRegression() throws {
    var c = config(.featuresLogReg)
    c.logisticL2 = 1e-3
    let data = RunData(train: makeTinyImages(60), test: makeTinyImages(30, seed: 21))
    let (summary, _) = try SinglePhaseProtocol.run(
      configuration: c, data: data, factory: tinyFactory)
    XCTAssertEqual(summary.status, .completed)
    XCTAssertGreaterThan(summary.test!.overall.accuracy.value, 0.5)
    XCTAssertTrue(summary.drift.filter { $0.name != "head" }.allSatisfy { $0.distance == 0 })
    XCTAssertGreaterThan(summary.drift.first { $0.name == "head" }?.distance ?? 0, 0)
  }

  /// AdaBN is per domain: after adaptation the source test set is scored with statistics
  /// re-estimated on source images, the target's with the target's (else AdaBN alone, whose
  /// weights never change, would show the swapped statistics as forgetting).
  func testAdaBNScoresEachDomainWithItsOwnStatistics() throws {
    var source = config(epochs: 2)
    source.strategy = .scratch
    let data = SourceTargetData(
      source: RunData(
        train: makeTinyImages(36, domain: "A"), test: makeTinyImages(18, seed: 3, domain: "A")),
      target: RunData(
        train: makeTinyImages(12, seed: 4, shift: 1, domain: "B"),
        test: makeTinyImages(18, seed: 6, shift: 1, domain: "B"),
        unlabelledTarget: makeTinyImages(24, seed: 7, shift: 1, domain: "B")))
    let result = try SourceTargetProtocol.run(
      SourceTargetConfiguration(source: source, adaBN: true, fineTune: nil), data: data,
      factory: tinyFactory)
    let afterAdaBN = try XCTUnwrap(result.afterAdaBN)
    // On the target; then on the source before and after adaptation (scored per domain).
    XCTAssertEqual(result.timings.filter { $0.phase == "adabn" }.count, 3)
    XCTAssertNotNil(result.sourceBeforeWithOwnStatistics)
    XCTAssertEqual(result.afterAdaptation.target, afterAdaBN.target)
    // afterAdaBN.source is the source scored with target statistics; the final score is not.
    XCTAssertNotEqual(result.afterAdaptation.source?.overall.loss, afterAdaBN.source?.overall.loss)
    XCTAssertEqual(
      result.forgettingAccuracy!,
      result.beforeAdaptation.source!.overall.accuracy.value
        - result.afterAdaptation.source!.overall.accuracy.value, accuracy: 1e-12)
  }

  /// Source → target: AdaBN + L2-SP fine-tune; forgetting is measured and drift recorded.
  func testSourceTargetProtocol() throws {
    var source = config(epochs: 2)
    source.strategy = .scratch
    var tune = config(epochs: 2)
    tune.regularizer = .l2sp()
    tune.labelsPerClass = 4
    let data = SourceTargetData(
      source: RunData(
        train: makeTinyImages(36, domain: "A"),
        validation: makeTinyImages(12, seed: 2, domain: "A"),
        test: makeTinyImages(18, seed: 3, domain: "A")),
      target: RunData(
        train: makeTinyImages(12, seed: 4, shift: 1, domain: "B"),
        validation: makeTinyImages(12, seed: 5, shift: 1, domain: "B"),
        test: makeTinyImages(18, seed: 6, shift: 1, domain: "B"),
        unlabelledTarget: makeTinyImages(24, seed: 7, shift: 1, domain: "B")))
    let result = try SourceTargetProtocol.run(
      SourceTargetConfiguration(source: source, adaBN: true, fineTune: tune), data: data,
      factory: tinyFactory)
    XCTAssertNotNil(result.afterAdaBN)
    XCTAssertNotNil(result.fineTuning)
    XCTAssertEqual(
      result.forgettingAccuracy!,
      result.beforeAdaptation.source!.overall.accuracy.value
        - result.afterAdaptation.source!.overall.accuracy.value, accuracy: 1e-12)
    XCTAssertGreaterThan(result.driftFromAdaptationStart.first { $0.name == "head" }!.distance, 0)
    XCTAssertEqual(result.fineTuningEpochs.count, 2)
    // Round-trips as JSON (the Studies module stores it).
    let data2 = try RunDirectory.prettyJSON(result)
    XCTAssertEqual(
      try JSONCoding.decoder().decode(SourceTargetResult.self, from: data2).configuration,
      result.configuration)
  }
}
