import Adaptation
import Datasets
import Foundation
import Interchange
import TestSupport
import XCTest

@testable import Studies

/// Config hashing: stable for equal configs, different for any change that matters.
final class RunConfigHashTests: XCTestCase {
  func config() throws -> RunConfig {
    RunConfig(
      arm: try ArmSpec.parse("full+l2sp(0.1)").get(),
      source: DatasetRef(kind: .generator, path: "../datasets/chest-ct-sites.yaml", site: "A"),
      target: DatasetRef(kind: .generator, path: "../datasets/chest-ct-sites.yaml", site: "B"),
      budget: .perClass(25), seed: 1, backbone: "efficientnet-lite0", inputSize: 128,
      training: TrainingSettings())
  }

  func testCanonicalJSONIsSortedAndStable() throws {
    let c = try config()
    let json = String(decoding: c.canonicalJSON(), as: UTF8.self)
    XCTAssertTrue(
      json.hasPrefix("{\"arm\":{\"adaBN\":false,\"l2sp\":{\"alpha\":0.1,\"beta\":0.01}"), json)
    XCTAssertFalse(json.contains(" "), "no whitespace: \(json)")
    XCTAssertEqual(c.hash, try config().hash)
    XCTAssertEqual(c.hash.count, 64)
    // Round trip through the store's JSON keeps the hash.
    let decoded = try JSONCoding.decoder().decode(RunConfig.self, from: c.canonicalJSON())
    XCTAssertEqual(decoded.hash, c.hash)
  }

  func testEveryRelevantChangeChangesTheHash() throws {
    let base = try config()
    var variants: [(String, RunConfig)] = []
    var c = base
    c.seed = 2
    variants.append(("seed", c))
    c = base
    c.budget = .all
    variants.append(("budget", c))
    c = base
    c.arm = try ArmSpec.parse("full+l2sp(0.2)").get()
    variants.append(("alpha", c))
    c = base
    c.arm = try ArmSpec.parse("full").get()
    variants.append(("arm", c))
    c = base
    c.target.site = "C"
    variants.append(("target site", c))
    c = base
    c.source.contentHash = "abc"
    variants.append(("data content", c))
    c = base
    c.inputSize = 96
    variants.append(("input size", c))
    c = base
    c.backbone = "efficientnet-lite1"
    variants.append(("backbone", c))
    c = base
    c.training.epochs = 31
    variants.append(("epochs", c))
    c = base
    c.training.learningRate = 0.01
    variants.append(("learning rate", c))
    c = base
    c.training.options["schedule"] = "cosine"
    variants.append(("options", c))
    c = base
    c.schema = 2
    variants.append(("schema", c))
    var seen = [base.hash: "base"]
    for (name, variant) in variants {
      XCTAssertNil(seen[variant.hash], "\(name) collides with \(seen[variant.hash] ?? "")")
      seen[variant.hash] = name
    }
  }

  /// `preprocessing: {window: …}` changes every run's hash (and the shared source models'
  /// key) when it sets a window other than the default; specs without it, or with
  /// `window: auto`, keep the hashes they had before the key existed (no `window` in the JSON).
  func testWindowEntersTheHashOnlyWhenSet() throws {
    let plain = try StudySpec.parse(yaml: StudySpecTests.minimal, file: "a.yaml", defaultName: "a")
    XCTAssertNil(plain.window)
    for run in plain.expand() {
      XCTAssertFalse(String(decoding: run.canonicalJSON(), as: UTF8.self).contains("window"))
    }
    func hashes(_ window: String) throws -> [String] {
      try StudySpec.parse(
        yaml: "preprocessing: {window: \(window)}\n" + StudySpecTests.minimal, file: "b.yaml",
        defaultName: "a"
      ).expand().map(\.hash)
    }
    XCTAssertEqual(try hashes("auto"), plain.expand().map(\.hash))
    var seen = Set(plain.expand().map(\.hash))
    for window in ["file", "\"40,400\"", "\"p1,99\""] {
      let h = try hashes(window)
      XCTAssertTrue(seen.isDisjoint(with: h), window)
      seen.formUnion(h)
    }
    let spec = try StudySpec.parse(
      yaml: "preprocessing:\n  window: -600,1500\n" + StudySpecTests.minimal, file: "c.yaml",
      defaultName: "c")
    XCTAssertEqual(spec.window, "-600,1500")
    XCTAssertTrue(spec.expand().allSatisfy { $0.window == "-600,1500" })
    // Round trip through the store keeps the window and the hash.
    let run = spec.expand()[0]
    let decoded = try JSONCoding.decoder().decode(RunConfig.self, from: run.canonicalJSON())
    XCTAssertEqual(decoded.window, "-600,1500")
    XCTAssertEqual(decoded.hash, run.hash)
    // A bad window is a one-line spec error naming the key and the fix.
    XCTAssertThrowsError(
      try StudySpec.parse(
        yaml: "preprocessing: {window: wide}\n" + StudySpecTests.minimal, file: "d.yaml",
        defaultName: "d")
    ) { error in
      let text = "\(error)"
      XCTAssertTrue(text.hasPrefix("d.yaml:1: key 'preprocessing.window': 'wide'"), text)
      XCTAssertTrue(text.contains("p1,99"), text)
      XCTAssertFalse(text.contains("\n"), text)
    }
  }

  /// The shared source models are keyed by the window too, but only when one is set (so the
  /// models of studies without it are found again); the executor reads the run's window back.
  func testSourceModelKeyAndExecutorWindow() throws {
    let dir = try makeTemporaryDirectory("source-key")
    defer { try? FileManager.default.removeItem(at: dir) }
    let manifest = dir.appendingPathComponent("m.csv")
    try "path,label\n".write(to: manifest, atomically: true, encoding: .utf8)
    let context = StudyContext(studyDirectory: dir, specDirectory: dir, cacheDirectory: dir)
    func key(_ window: String?) throws -> String {
      try AdaptationExecutor.sharedSourceModel(
        TrainingConfiguration(), manifest: manifest, domain: "A", splits: "train=1",
        window: window, context: context
      ).lastPathComponent
    }
    let plain = try AdaptationExecutor.sharedSourceModel(
      TrainingConfiguration(), manifest: manifest, domain: "A", splits: "train=1",
      context: context
    ).lastPathComponent
    XCTAssertEqual(try key(nil), plain)
    XCTAssertNotEqual(try key("40,400"), plain)
    XCTAssertNotEqual(try key("40,400"), try key("p1,99"))
    var run = try config()
    XCTAssertEqual(try AdaptationExecutor.window(run), .auto)
    run.window = "-600,1500"
    XCTAssertEqual(try AdaptationExecutor.window(run), .fixed(center: -600, width: 1500))
  }

  func testReportSettingsAndStudyNameDoNotChangeRunHashes() throws {
    let a = try StudySpec.parse(yaml: StudySpecTests.minimal, file: "a.yaml", defaultName: "a")
    let b = try StudySpec.parse(
      yaml: "name: renamed\nreport: {metric: accuracy}\n" + StudySpecTests.minimal, file: "b.yaml",
      defaultName: "b")
    XCTAssertEqual(a.expand().map(\.hash), b.expand().map(\.hash))
  }
}
