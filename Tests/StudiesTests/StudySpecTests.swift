import Adaptation
import Foundation
import Interchange
import TestSupport
import XCTest

@testable import Studies

/// Spec parsing, defaults, validation errors and the arm grammar.
final class StudySpecTests: XCTestCase {
  static let minimal = """
    data:
      source: {manifest: a.csv, domain: A}
      targets: [{manifest: b.csv, domain: B}]
    arms: [scratch, full+l2sp(0.1)]
    """

  func parse(_ yaml: String) throws -> StudySpec {
    try StudySpec.parse(yaml: yaml, file: "studies/t.yaml", defaultName: "t")
  }

  func error(_ yaml: String) -> String {
    do {
      _ = try parse(yaml)
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  func testMinimalSpecGetsDefaults() throws {
    let spec = try parse(Self.minimal)
    XCTAssertEqual(spec.name, "t")
    XCTAssertEqual(spec.backbone, "efficientnet-lite0")
    XCTAssertEqual(spec.inputSize, 128)
    XCTAssertEqual(
      spec.budgets, [.perClass(10), .perClass(25), .perClass(50), .perClass(100), .all])
    XCTAssertEqual(spec.seeds, [0, 1, 2])
    // One set of training defaults: a spec that says nothing trains as `medtransfer train` does.
    let defaults = TrainingConfiguration()
    XCTAssertEqual(spec.training.epochs, defaults.epochs)
    XCTAssertEqual(spec.training.patience, defaults.patience)
    XCTAssertEqual(spec.training.optimizer, defaults.optimizer)
    XCTAssertEqual(spec.training.batchSize, defaults.batchSize)
    XCTAssertEqual(spec.training.backboneLearningRateScale, defaults.backboneLearningRateScale)
    XCTAssertEqual(spec.training.weightDecay, defaults.weightDecay)
    XCTAssertEqual(spec.training.monitor, defaults.selectionMetric)
    XCTAssertEqual(spec.shift.analyses, ShiftAnalysisKind.allCases)
    XCTAssertEqual(spec.report.metric, .balancedAccuracy)
    XCTAssertEqual(spec.source, DatasetRef(kind: .manifest, path: "a.csv", site: "A"))
    XCTAssertEqual(spec.arms.map(\.name), ["scratch", "full+l2sp(0.1)"])
    XCTAssertEqual(spec.arms[1].l2sp, ArmSpec.L2SP(alpha: 0.1, beta: 0.01))
  }

  func testOnBadIsADataKeyDefaultingToSkip() throws {
    let spec = try parse(Self.minimal)
    XCTAssertNil(spec.onBad)
    XCTAssertEqual(spec.badRowPolicy, .skip)
    let failing = try parse(
      Self.minimal.replacingOccurrences(
        of: "targets: [{manifest: b.csv, domain: B}]",
        with: "targets: [{manifest: b.csv, domain: B}]\n  on_bad: fail"))
    XCTAssertEqual(failing.badRowPolicy, .fail)
    XCTAssertEqual(failing.expand().map(\.hash), spec.expand().map(\.hash), "not in run hashes")
    let message = error(
      Self.minimal.replacingOccurrences(
        of: "targets: [{manifest: b.csv, domain: B}]",
        with: "targets: [{manifest: b.csv, domain: B}]\n  on_bad: ignore"))
    XCTAssertTrue(message.contains("data.on_bad"), message)
    XCTAssertTrue(message.contains("on_bad: skip"), message)
  }

  func testShippedSpecsParse() throws {
    // Every spec in studies/, each named like its file.
    let names = try FileManager.default.contentsOfDirectory(
      atPath: packageRoot.appendingPathComponent("studies").path
    ).filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    XCTAssertEqual(
      names,
      [
        "chest-ct-seed0", "chest-ct-site-shift", "forgetting", "quickstart", "shift-vs-drop",
        "transfer-vs-scratch",
      ])
    for name in names {
      let path = packageRoot.appendingPathComponent("studies/\(name).yaml").path
      let spec = try StudySpec.load(file: path)
      XCTAssertEqual(spec.name, name)
      XCTAssertFalse(spec.expand().isEmpty)
    }
    let full = try StudySpec.load(
      file: packageRoot.appendingPathComponent("studies/chest-ct-site-shift.yaml").path)
    XCTAssertEqual(full.targets.map(\.label), ["site-b", "site-c"])
    XCTAssertEqual(full.seeds.count, 3)
    // 6 arms at 4 budgets and 4 arms at one, × 2 targets × 3 seeds.
    XCTAssertEqual(full.expand().count, (6 * 4 + 4) * 2 * 3)
    XCTAssertTrue(
      full.expand().filter { $0.arm.name == "scratch" }.allSatisfy {
        $0.training.sourceEpochs == 40 && $0.training.patience == 0
      })
    XCTAssertTrue(full.arms.contains { $0.strategy == .featuresLogReg })
    // The cut is the full study's seed 0 at 10 and 25 labels per class: the same runs.
    let cut = try StudySpec.load(
      file: packageRoot.appendingPathComponent("studies/chest-ct-seed0.yaml").path)
    let fullRuns = full.expand().filter {
      $0.seed == 0 && [10, 25].contains($0.budget.count ?? -1)
    }
    XCTAssertEqual(cut.expand().map(\.hash), fullRuns.map(\.hash))
    XCTAssertEqual(cut.expand().count, 32)
    XCTAssertTrue(full.arms.contains { $0.strategy == ArmSpec.Strategy.untrained && $0.adaBN })
  }

  func testErrorsNameFileLineKeyAndFix() {
    XCTAssertEqual(
      error(Self.minimal + "\nbudgets: [10, lots]"),
      "studies/t.yaml:5: key 'budgets[1]': 'lots' is not a label budget; use a positive number "
        + "of labels per class or 'all'.")
    let typo = error(Self.minimal + "\nseed: 3")
    XCTAssertTrue(
      typo.hasPrefix("studies/t.yaml:5: key 'seed': unknown key; did you mean 'seeds'?"), typo)
    let arm = error(Self.minimal.replacingOccurrences(of: "full+l2sp(0.1)", with: "ful"))
    XCTAssertTrue(arm.contains("key 'arms[1]': unknown component 'ful'"), arm)
    XCTAssertTrue(error("arms: [scratch]").contains("key 'data': missing"))
    let syntax = error("data: [unclosed")
    XCTAssertTrue(syntax.hasPrefix("studies/t.yaml:"), syntax)
    XCTAssertTrue(syntax.contains("not valid YAML"), syntax)
    let site = error(
      Self.minimal.replacingOccurrences(
        of: "{manifest: b.csv, domain: B}", with: "{generator: g.yaml}"))
    XCTAssertTrue(site.contains("key 'data.targets[0].site': missing"), site)
    let range = error(Self.minimal + "\ntraining: {epochs: 0}")
    XCTAssertTrue(range.contains("key 'training.epochs': 0 is out of range"), range)
    let subset = error(
      Self.minimal.replacingOccurrences(
        of: "arms: [scratch, full+l2sp(0.1)]", with: "arms: [scratch, {arm: full, budgets: [7]}]")
        + "\nbudgets: [10, 20]")
    XCTAssertTrue(subset.contains("budget 7 is not in the study's budgets"), subset)
    // Every message is one line.
    for message in [typo, arm, syntax, site, range, subset] {
      XCTAssertFalse(message.contains("\n"), message)
    }
  }

  func testArmGrammar() throws {
    func name(_ s: String) -> String {
      switch ArmSpec.parse(s) {
      case .success(let arm): return arm.name
      case .failure(let e): return "error: \(e.reason)"
      }
    }
    XCTAssertEqual(name("full+l2sp"), "full+l2sp(0.1)")
    XCTAssertEqual(name("l2sp(1)+full"), "full+l2sp(1)")
    XCTAssertEqual(name("full+adabn+l2sp(0.1, 0.02)"), "adabn+full+l2sp(0.1,0.02)")
    XCTAssertEqual(name("features+logreg"), "features+logreg")
    XCTAssertEqual(name("full+dropout"), "full+dropout")
    XCTAssertEqual(name("full+dropout(0.3)"), "full+dropout(0.3)")
    // The command line's old spelling of a partial fine-tune reads as the one canonical name.
    XCTAssertEqual(name("partial:2+l2sp"), "partial(2)+l2sp(0.1)")
    XCTAssertEqual(name("partial(2)"), "partial(2)")
    XCTAssertEqual(name("partial(2)"), "partial(2)")
    XCTAssertEqual(name("adabn"), "adabn")
    XCTAssertEqual(name("baseline:majority-class"), "baseline:majority-class")
    XCTAssertTrue(name("scratch+l2sp").hasPrefix("error: scratch has no pretrained weights"))
    XCTAssertTrue(name("full+scratch").contains("second training strategy"))
    XCTAssertTrue(name("adabn+l2sp").contains("adabn alone trains nothing"))
    XCTAssertTrue(name("partial(0)").contains("needs a stage count"))
    XCTAssertTrue(name("baseline:coin").contains("unknown baseline"))
    XCTAssertTrue(name("full+dropout(1.5)").contains("rate in [0, 1)"))
    let adabn = try ArmSpec.parse("adabn").get()
    XCTAssertTrue(adabn.isTransfer)
    XCTAssertFalse(try ArmSpec.parse("scratch").get().isTransfer)
    XCTAssertFalse(try ArmSpec.parse("baseline:majority-class").get().isTransfer)
  }

  func testExpansionCountsAndOrder() throws {
    let spec = try parse(
      Self.minimal.replacingOccurrences(
        of: "arms: [scratch, full+l2sp(0.1)]",
        with: "arms: [scratch, full, {arm: full+l2sp(1), budgets: [50]}]")
        + "\nbudgets: [all, 10, 50]\nseeds: [3, 7]\n")
    let runs = spec.expand()
    // 2 arms × 3 budgets × 2 seeds + 1 arm × 1 budget × 2 seeds.
    XCTAssertEqual(runs.count, 2 * 3 * 2 + 2)
    XCTAssertEqual(spec.budgets, [.perClass(10), .perClass(50), .all])
    XCTAssertEqual(runs.prefix(4).map(\.arm.name), ["scratch", "full", "scratch", "full"])
    XCTAssertEqual(runs.prefix(4).map(\.seed), [3, 3, 7, 7])
    XCTAssertEqual(
      runs.filter { $0.arm.name == "full+l2sp(1)" }.map(\.budget), [.perClass(50), .perClass(50)])
    XCTAssertEqual(Set(runs.map(\.hash)).count, runs.count, "every run has its own hash")
  }

  func testPerArmEpochsOverrideOnlyThatArm() throws {
    let spec = try parse(
      Self.minimal.replacingOccurrences(
        of: "arms: [scratch, full+l2sp(0.1)]",
        with: "arms: [{arm: scratch, epochs: 40, source_epochs: 30, patience: 0}, full]")
        + "\ntraining: {epochs: 12, source_epochs: 10}\n")
    let runs = spec.expand()
    let scratch = runs.filter { $0.arm.name == "scratch" }
    XCTAssertTrue(
      scratch.allSatisfy {
        $0.training.epochs == 40 && $0.training.sourceEpochs == 30 && $0.training.patience == 0
      })
    let full = runs.filter { $0.arm.name == "full" }
    XCTAssertTrue(
      full.allSatisfy {
        $0.training.epochs == 12 && $0.training.sourceEpochs == 10 && $0.training.patience == 5
      })
    // A spec stored before per-arm epochs existed (no key in its JSON) still decodes.
    var json =
      try JSONSerialization.jsonObject(
        with: JSONCoding.encoder(.pretty).encode(try parse(Self.minimal))) as! [String: Any]
    json.removeValue(forKey: "armTraining")
    let old = try JSONCoding.decoder().decode(
      StudySpec.self, from: JSONSerialization.data(withJSONObject: json))
    XCTAssertNil(old.armTraining)
    XCTAssertTrue(
      error(
        Self.minimal.replacingOccurrences(
          of: "arms: [scratch, full+l2sp(0.1)]", with: "arms: [{arm: scratch, epochs: 0}]")
      )
      .contains("arms[0].epochs"))
  }

  func testShardsPartitionTheRuns() throws {
    XCTAssertEqual(StudyRunner.Shard(parsing: "2/3"), StudyRunner.Shard(index: 1, count: 3))
    for bad in ["0/2", "3/2", "1", "a/b", "1/0"] {
      XCTAssertNil(StudyRunner.Shard(parsing: bad), bad)
    }
    let shards = (0..<3).map { StudyRunner.Shard(index: $0, count: 3) }
    for position in 0..<20 {
      XCTAssertEqual(shards.filter { $0.owns(position) }.count, 1)
    }
  }
}
