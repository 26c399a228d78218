import Foundation
import Neural
import TestSupport
import XCTest

@testable import Adaptation

final class StrategyTests: XCTestCase {
  private func train(_ strategy: Strategy) throws -> (
    before: [String: [Float]],
    after: [String: [Float]],
    plan: StrategyPlan
  ) {
    let model = makeTinyModel()
    let plan = try model.apply(strategy)
    let before = checksums(model)
    var config = TrainingConfiguration()
    config.strategy = strategy
    config.epochs = 2
    config.batchSize = 8
    config.patience = nil
    config.learningRate = 1e-2
    let trainer = Trainer(model: model, configuration: config, penalty: model.penalty(.l2sp()))
    let outcome = try trainer.fit(
      train: makeTinyImages(24), validation: makeTinyImages(12, seed: 9))
    XCTAssertEqual(outcome.summary.status, .completed, outcome.summary.error ?? "")
    // The best epoch's weights are restored; make sure they are not the initial ones.
    XCTAssertGreaterThan(outcome.summary.bestEpoch, 0)
    return (before, checksums(model), plan)
  }

  private func assertFrozen(
    _ r: (before: [String: [Float]], after: [String: [Float]], plan: StrategyPlan),
    trainedStages: Set<String>, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    for (name, values) in r.before {
      let stage = String(name.split(separator: ".").first!)
      let isHead = name.hasPrefix("_fc")
      let isCounter = name.hasSuffix("num_batches_tracked")
      let changed = values != r.after[name]!
      if isHead || trainedStages.contains(stage) {
        // Trained parameters and the running statistics of trained stages move.
        if !isCounter {
          XCTAssertTrue(changed, "\(name) should have changed", file: file, line: line)
        }
      } else {
        XCTAssertFalse(changed, "\(name) should be bit-identical", file: file, line: line)
      }
    }
  }

  func testLinearProbeTrainsOnlyTheHeadAndFreezesStatistics() throws {
    let r = try train(.linearProbe)
    XCTAssertTrue(r.plan.backboneFrozen)
    XCTAssertEqual(r.plan.frozenStatistics, ["stem.bn", "stage1.bn", "stage2.bn"])
    assertFrozen(r, trainedStages: [])
  }

  func testPartialTrainsTheLastStagesOnly() throws {
    let r = try train(.partial(stages: 1))
    XCTAssertEqual(r.plan.trainedStages, [2])
    XCTAssertEqual(r.plan.frozenStatistics, ["stem.bn", "stage1.bn"])
    assertFrozen(r, trainedStages: ["stage2"])
  }

  func testFullAndScratchTrainEverything() throws {
    assertFrozen(try train(.full), trainedStages: ["stem", "stage1", "stage2"])
    assertFrozen(try train(.scratch), trainedStages: ["stem", "stage1", "stage2"])
  }

  func testBackboneLearningRateScaleGroups() throws {
    let model = makeTinyModel()
    try model.apply(.partial(stages: 2))
    let groups = model.parameterGroups(learningRate: 1e-3, backboneScale: 0.1, weightDecay: 0)
    XCTAssertEqual(groups.count, 2)
    XCTAssertEqual(groups[0].learningRate, 1e-4, accuracy: 1e-12)
    XCTAssertEqual(groups[1].learningRate, 1e-3)
    XCTAssertTrue(groups[0].parameters.allSatisfy { !$0.name.hasPrefix("stem.") })
    XCTAssertTrue(groups[1].parameters.allSatisfy { $0.name.hasPrefix("_fc") })
  }

  /// L2-SP over a real model covers convolution and linear weights, not BN or biases.
  func testPenaltyCoversConvolutionAndLinearWeights() throws {
    let model = makeTinyModel()
    let names = model.penalty(.l2sp()).terms.map(\.name)
    XCTAssertEqual(
      names,
      [
        "stem.conv.weight", "stage1.conv.weight", "stage2.conv.weight",
        "_fc.weight",
      ])
    let withBN = model.penalty(.l2sp(includeBatchNormAffine: true)).terms.map(\.name)
    XCTAssertTrue(withBN.contains("stem.bn.weight") && withBN.contains("stage2.bn.bias"))
    XCTAssertFalse(withBN.contains("_fc.bias"))
  }
}

/// The classifier head's backward pass against central differences (hidden layer, ReLU6 and
/// dropout included: the same masks are drawn for every evaluation by reseeding).
final class ClassifierHeadGradientTests: XCTestCase {
  func testBackwardMatchesFiniteDifferences() {
    for (hidden, dropout): (Int?, Float) in [(nil, 0), (nil, 0.3), (16, 0), (16, 0.25)] {
      let head = ClassifierHead(
        inputFeatures: 12, classes: 4, hiddenUnits: hidden, dropout: dropout, seed: 9)
      let worst = checkGradients(
        head, input: randomTensor([5, 12], seed: 21), eps: 1e-2, samples: 30,
        kinks: hidden != nil, prepare: { head.reseedDropout(3) })
      XCTAssertLessThan(worst, 0.05, "hidden \(String(describing: hidden)), dropout \(dropout)")
    }
  }
}
