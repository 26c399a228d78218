import Foundation
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
    XCTAssertTrue(json.hasPrefix("{\"arm\":{\"adaBN\":false,\"l2sp\":{\"alpha\":0.1,\"beta\":0.01}"), json)
    XCTAssertFalse(json.contains(" "), "no whitespace: \(json)")
    XCTAssertEqual(c.hash, try config().hash)
    XCTAssertEqual(c.hash.count, 64)
    // Round trip through the store's JSON keeps the hash.
    let decoded = try StudyJSON.decoder.decode(RunConfig.self, from: c.canonicalJSON())
    XCTAssertEqual(decoded.hash, c.hash)
  }

  func testEveryRelevantChangeChangesTheHash() throws {
    let base = try config()
    var variants: [(String, RunConfig)] = []
    var c = base; c.seed = 2; variants.append(("seed", c))
    c = base; c.budget = .all; variants.append(("budget", c))
    c = base; c.arm = try ArmSpec.parse("full+l2sp(0.2)").get(); variants.append(("alpha", c))
    c = base; c.arm = try ArmSpec.parse("full").get(); variants.append(("arm", c))
    c = base; c.target.site = "C"; variants.append(("target site", c))
    c = base; c.source.contentHash = "abc"; variants.append(("data content", c))
    c = base; c.inputSize = 96; variants.append(("input size", c))
    c = base; c.backbone = "efficientnet-lite1"; variants.append(("backbone", c))
    c = base; c.training.epochs = 31; variants.append(("epochs", c))
    c = base; c.training.learningRate = 0.01; variants.append(("learning rate", c))
    c = base; c.training.options["schedule"] = "cosine"; variants.append(("options", c))
    c = base; c.schema = 2; variants.append(("schema", c))
    var seen = [base.hash: "base"]
    for (name, variant) in variants {
      XCTAssertNil(seen[variant.hash], "\(name) collides with \(seen[variant.hash] ?? "")")
      seen[variant.hash] = name
    }
  }

  func testReportSettingsAndStudyNameDoNotChangeRunHashes() throws {
    let a = try StudySpec.parse(yaml: StudySpecTests.minimal, file: "a.yaml", defaultName: "a")
    let b = try StudySpec.parse(
      yaml: "name: renamed\nreport: {metric: accuracy}\n" + StudySpecTests.minimal, file: "b.yaml",
      defaultName: "b")
    XCTAssertEqual(a.expand().map(\.hash), b.expand().map(\.hash))
  }
}
