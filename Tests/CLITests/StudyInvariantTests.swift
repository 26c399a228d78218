import Adaptation
import Foundation
import Interchange
import TestSupport
import XCTest

@testable import Studies

/// The invariants a reviewer checks first, on a tiny phantom study run by the real
/// `medtransfer` binary: an arm's result depends on its label budget; every arm of a seed sees
/// the same budgeted images; `evaluate` on a run's saved artifact reproduces its score; the same
/// study gives bit-identical results with one worker, with two workers, and killed with
/// SIGKILL mid-epoch and resumed; labels shuffled within the training set give chance.
final class StudyInvariantTests: XCTestCase {
  static let generator = phantomSpec

  override func setUpWithError() throws { try skipUnlessLite0IsCached() }

  /// A source phase on site A shared by every arm of a seed, then the target arms on site B at
  /// two budgets and two seeds: 12 runs, 8 of them trained.
  static let spec = """
    name: invariants
    data:
      source: {generator: \(generator.path), site: site-a}
      targets: [{generator: \(generator.path), site: site-b}]
    backbone: efficientnet-lite0
    input_size: 32
    arms: [baseline:majority-class, features+logreg, full]
    budgets: [2, 8]
    seeds: 2
    training:
      epochs: 4
      patience: 0
      batch_size: 8
      optimizer: adamw
      learning_rate: 0.001
      source_epochs: 1
      options: {phantom_per_class: 16, phantom_size: 48}
    shift: {analyses: [intensity, headers], permutations: 20, bootstrap: 20, max_images: 40}
    """

  /// What must be identical between two runs of one configuration: everything but wall times,
  /// throughput, the checkpoint path and whether the run was resumed.
  static func comparable(_ r: RunResult) throws -> String {
    var r = r
    r.wallSeconds = 0
    r.imagesPerSecond = nil
    r.timings = []
    r.epochLogs = r.epochLogs.map {
      var e = $0
      e.seconds = 0
      e.elapsedSeconds = 0
      e.imagesPerSecond = 0
      return e
    }
    for key in ["checkpoint", "artifact", "resumed"] { r.notes[key] = nil }
    return try JSONCoding.canonicalString(r)
  }

  func results(_ studyDir: URL) throws -> [String: RunResult] {
    let store = try StudyStore(directory: studyDir, create: false)
    var out: [String: RunResult] = [:]
    for run in try store.runs() {
      XCTAssertEqual(run.status, .finished, "\(run.config.label): \(run.error ?? "")")
      out[run.hash] = try XCTUnwrap(run.result, run.config.label)
    }
    return out
  }

  func testBudgetsSubsetsArtifactsAndDeterminismAcrossWorkersAndKills() throws {
    let dir = try makeTemporaryDirectory("study-invariants")
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = dir.appendingPathComponent("invariants.yaml")
    try Self.spec.write(to: spec, atomically: true, encoding: .utf8)

    // 1. One worker.
    let one = dir.appendingPathComponent("one")
    let first = try runMedtransfer(["study", "run", spec.path, "--out", one.path, "--no-report"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let reference = try results(one)
    XCTAssertEqual(reference.count, 12)
    let store = try StudyStore(directory: one, create: false)
    let runs = try store.runs()

    // 2. The result depends on the budget: every arm that learns from target labels predicts
    // differently at 2 and 8 labels per class; all arms of a seed and budget train on the same
    // images, which differ between budgets.
    for seed in [0, 1] {
      var subsets: [String: Set<String>] = [:]
      for arm in ["baseline:majority-class", "features+logreg", "full"] {
        let byBudget = Dictionary(
          uniqueKeysWithValues: runs.filter { $0.config.seed == seed && $0.config.arm.name == arm }
            .map { ($0.config.budget.count ?? -1, reference[$0.hash]!) })
        XCTAssertEqual(Set(byBudget.keys), [2, 8], arm)
        for (budget, r) in byBudget {
          subsets["\(budget)", default: []].insert(try XCTUnwrap(r.notes["target.train.sha256"]))
        }
        if arm != "baseline:majority-class" {
          let a = try XCTUnwrap(byBudget[2]?.target.predictionsSHA256, arm)
          let b = try XCTUnwrap(byBudget[8]?.target.predictionsSHA256, arm)
          XCTAssertNotEqual(
            a, b, "\(arm) seed \(seed): the same target predictions at 2 and 8 labels/class")
          XCTAssertEqual(byBudget[2]?.trainImages, 8)  // 4 classes × 2
          XCTAssertGreaterThan(byBudget[8]?.trainImages ?? 0, 8)
        }
      }
      XCTAssertEqual(subsets["2"]?.count, 1, "arms of seed \(seed) saw different 2-label subsets")
      XCTAssertEqual(subsets["8"]?.count, 1, "arms of seed \(seed) saw different 8-label subsets")
      XCTAssertNotEqual(subsets["2"], subsets["8"])
    }

    // 3. `evaluate` on the artifact a run saved reproduces its "after adaptation" target score.
    for run in runs where !run.config.arm.isBaseline {
      let r = reference[run.hash]!
      let artifact = try XCTUnwrap(r.notes["artifact"], run.config.label)
      let config = try XCTUnwrap(
        JSONSerialization.jsonObject(
          with: Data(contentsOf: URL(fileURLWithPath: artifact + "/config.json"))) as? [String: Any]
      )
      let data = try XCTUnwrap((config["data"] as? [String: Any])?["source"] as? String)
      let evaluated = try runMedtransfer([
        "evaluate", "--checkpoint", artifact, "--data", data, "--domain", "site-b",
        "--split", "test", "--json",
      ])
      XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
      // JSONDecoder, not JSONSerialization: the latter misreads the last bit of some doubles.
      let decoder = JSONDecoder()
      decoder.nonConformingFloatDecodingStrategy = .convertFromString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      let overall = try decoder.decode(EvaluationReport.self, from: Data(evaluated.stdout.utf8))
        .overall
      XCTAssertEqual(
        overall.predictionsSHA256, r.target.predictionsSHA256,
        "\(run.config.label): evaluate scored other predictions than the run")
      XCTAssertEqual(overall.balancedAccuracy, r.target.balancedAccuracy, run.config.label)
      XCTAssertEqual(overall.accuracy.value, r.target.accuracy, run.config.label)
      XCTAssertEqual(overall.count, r.target.count, run.config.label)
    }

    // 4. Two workers give the same results, run for run.
    let two = dir.appendingPathComponent("two")
    let second = try runMedtransfer(
      ["study", "run", spec.path, "--out", two.path, "--no-report", "--workers", "2"])
    XCTAssertEqual(second.status, 0, second.stderr)
    let parallel = try results(two)
    XCTAssertEqual(Set(parallel.keys), Set(reference.keys))
    for (hash, r) in reference {
      XCTAssertEqual(
        try Self.comparable(parallel[hash]!), try Self.comparable(r), "--workers 2, run \(hash)")
    }

    // 5. Killed with SIGKILL in the middle of a run's target training (after an epoch's
    // checkpoint, before its last epoch), then run again: the same results, run for run.
    let killed = dir.appendingPathComponent("killed")
    let process = Process()
    process.executableURL = medtransferExecutable()
    process.arguments = ["study", "run", spec.path, "--out", killed.path, "--no-report"]
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let checkpoints = killed.appendingPathComponent("checkpoints")
    var victim: String?
    while process.isRunning && victim == nil {
      let folders = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
      victim = folders.first { folder in
        // A run with a finished epoch of target training and no artifact yet.
        FileManager.default.fileExists(
          atPath: checkpoints.appendingPathComponent("\(folder)/target/resume.json").path)
      }
      if victim == nil { usleep(5_000) }
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertNotNil(victim, "the study finished before any run could be killed mid-training")
    let resumed = try runMedtransfer([
      "study", "run", spec.path, "--out", killed.path, "--no-report",
    ])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    let again = try results(killed)
    XCTAssertEqual(Set(again.keys), Set(reference.keys))
    XCTAssertTrue(
      again.values.contains { $0.notes["resumed"] == "true" },
      "no run resumed from its checkpoint; the kill missed the training phase")
    for (hash, r) in reference {
      XCTAssertEqual(
        try Self.comparable(again[hash]!), try Self.comparable(r), "killed and resumed, run \(hash)"
      )
    }

    // 6. A study folder given the reference's stored features reads every frozen-backbone
    // feature back (computing none: no file is added) and gets the same results, run for run.
    let stored = one.appendingPathComponent("features")
    let storedFiles = try Self.files(under: stored)
    XCTAssertGreaterThan(storedFiles.count, 0, "features+logreg stored no features")
    let warm = dir.appendingPathComponent("warm")
    try FileManager.default.createDirectory(at: warm, withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: stored, to: warm.appendingPathComponent("features"))
    let rerun = try runMedtransfer(["study", "run", spec.path, "--out", warm.path, "--no-report"])
    XCTAssertEqual(rerun.status, 0, rerun.stderr)
    XCTAssertEqual(try Self.files(under: warm.appendingPathComponent("features")), storedFiles)
    let fromStore = try results(warm)
    for (hash, r) in reference {
      XCTAssertEqual(
        try Self.comparable(fromStore[hash]!), try Self.comparable(r),
        "stored features, run \(hash)")
    }
  }

  /// The files under `folder`, relative to it, sorted.
  static func files(under folder: URL) throws -> [String] {
    let names = FileManager.default.enumerator(atPath: folder.path)?.allObjects as? [String] ?? []
    return names.filter { !$0.hasSuffix("/") && !isDirectory(folder.appendingPathComponent($0)) }
      .sorted()
  }

  static func isDirectory(_ url: URL) -> Bool {
    var flag: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &flag) && flag.boolValue
  }

  /// Labels shuffled within the training set give chance on the (truly labelled) test set, for
  /// a fine-tuned arm and for features+logreg; the same data with its labels intact is learned
  /// (the control that lets this test fail). Site A of the phantom, one split for both
  /// manifests (a `split` column by patient), the training rows' labels permuted.
  func testShuffledTrainingLabelsGiveChance() throws {
    let dir = try makeTemporaryDirectory("study-shuffled")
    defer { try? FileManager.default.removeItem(at: dir) }
    let phantom = dir.appendingPathComponent("phantom")
    try generatePhantom(in: phantom, perClass: 80, size: 96)
    let lines = try String(
      contentsOf: phantom.appendingPathComponent("manifest.csv"), encoding: .utf8
    )
    .split(separator: "\n").map {
      $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }
    let header = lines[0]
    let (path, label, domain, patient) = (
      header.firstIndex(of: "path")!, header.firstIndex(of: "label")!,
      header.firstIndex(of: "domain")!, header.firstIndex(of: "patient")!
    )
    let rows = lines.dropFirst().filter { $0.count == header.count && $0[domain] == "site-a" }
    let patients = Array(Set(rows.map { $0[patient] })).sorted()
    func split(_ p: String) -> String {
      let i = patients.firstIndex(of: p)!
      return i % 5 == 0 ? "test" : (i % 5 == 1 ? "val" : "train")
    }
    // Training labels made independent of the images: within each true class (in a fixed
    // pseudo-random order, Fisher–Yates on an LCG), the new labels cycle through every class,
    // so each true class carries every label equally often. (A plain permutation of a finite
    // set keeps a random confusion between true and new labels, which a network memorises and
    // turns into a below-chance AUROC.)
    let classes = Array(Set(rows.map { $0[label] })).sorted()
    var state: UInt64 = 20_261_207
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((state >> 33) % UInt64(bound))
    }
    var shuffledLabel: [Int: String] = [:]
    for (k, c) in classes.enumerated() {
      var members = rows.indices.filter {
        split(rows[$0][patient]) == "train" && rows[$0][label] == c
      }
      for i in stride(from: members.count - 1, to: 0, by: -1) { members.swapAt(i, next(i + 1)) }
      for (j, row) in members.enumerated() { shuffledLabel[row] = classes[(j + k) % classes.count] }
    }
    let agree = shuffledLabel.filter { rows[$0.key][label] == $0.value }.count
    XCTAssertLessThan(
      Double(agree) / Double(shuffledLabel.count), 0.3, "the relabelling kept most labels")
    for (name, shuffle) in [("clean.csv", false), ("shuffled.csv", true)] {
      let body = rows.indices.map { i -> String in
        let r = rows[i]
        let y = shuffle ? (shuffledLabel[i] ?? r[label]) : r[label]
        return [r[path], y, r[domain], r[patient], split(r[patient])].joined(separator: ",")
      }
      try (["path,label,domain,patient,split"] + body).joined(separator: "\n")
        .write(to: phantom.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    let spec = dir.appendingPathComponent("shuffled.yaml")
    try """
    name: shuffled
    data:
      source: {manifest: phantom/clean.csv, domain: site-a}
      targets: [{manifest: phantom/clean.csv, domain: site-a}, {manifest: phantom/shuffled.csv, domain: site-a}]
    backbone: efficientnet-lite0
    input_size: 96
    arms: [features+logreg, full]
    budgets: [all]
    seeds: 1
    training:
      {epochs: 10, patience: 0, batch_size: 16, optimizer: adamw, learning_rate: 0.001,
       backbone_lr_scale: 0.3}
    shift: {analyses: []}
    """.write(to: spec, atomically: true, encoding: .utf8)
    let study = dir.appendingPathComponent("study")
    let run = try runMedtransfer(["study", "run", spec.path, "--out", study.path, "--no-report"])
    XCTAssertEqual(run.status, 0, run.stderr)
    let store = try StudyStore(directory: study, create: false)
    let runs = try store.runs()
    XCTAssertEqual(runs.count, 4)
    for stored in runs {
      let r = try XCTUnwrap(stored.result, stored.config.label)
      let auroc = try XCTUnwrap(r.target.auroc, stored.config.label)
      let (lower, upper) = (try XCTUnwrap(auroc.lower), try XCTUnwrap(auroc.upper))
      let shuffled = stored.config.target.path.hasSuffix("shuffled.csv")
      print(
        "\(stored.config.arm.name) \(shuffled ? "shuffled" : "clean"): macro AUROC "
          + "\(auroc.value) [\(lower), \(upper)], balanced accuracy \(r.target.balancedAccuracy)")
      if shuffled {
        XCTAssertTrue(
          lower <= 0.5 && 0.5 <= upper,
          "\(stored.config.arm.name) learned from shuffled labels: AUROC [\(lower), \(upper)]")
        XCTAssertEqual(r.target.balancedAccuracy, 0.25, accuracy: 0.2, stored.config.arm.name)
      } else {
        XCTAssertGreaterThan(lower, 0.5, "\(stored.config.arm.name) did not learn the clean labels")
      }
    }
  }
}
