import Foundation
import TestSupport
import XCTest

/// `medtransfer train --arm` takes the study spec's arm grammar, and maps it to the training
/// configuration through the same function as a study run; the old `--strategy partial:K`
/// spelling still works, with a note.
final class ArmGrammarCLITests: XCTestCase {
  private var dir: URL!
  private var manifest: String { dir.appendingPathComponent("phantom/manifest.csv").path }

  override func setUpWithError() throws {
    dir = try makeTemporaryDirectory("cli-arm")
    try generatePhantom(in: dir.appendingPathComponent("phantom"), perClass: 3, size: 32, seed: 4)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  func train(_ name: String, _ extra: [String]) throws -> (CommandResult, [String: Any]?) {
    let out = dir.appendingPathComponent(name).path
    let result = try runMedtransfer(
      [
        "train", "--data", manifest, "--init", "scratch:efficientnet-lite0", "--epochs", "1",
        "--size", "32", "--batch-size", "4", "--patience", "0", "--out", out,
      ] + extra, environment: ["MEDTRANSFER_CACHE": dir.path])
    let config = try? Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))
    let json = config.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    return (result, json?["configuration"] as? [String: Any])
  }

  func testArmGrammarReachesTheTrainingConfiguration() throws {
    let (armRun, arm) = try train("arm", ["--arm", "partial(2)+l2sp(0.2)+dropout(0.3)"])
    XCTAssertEqual(armRun.status, 0, armRun.stderr)
    XCTAssertEqual(arm?["strategy"] as? String, "partial(2)")
    XCTAssertEqual(arm?["dropout"] as? Double, 0.3)
    let reg = try XCTUnwrap(arm?["regularizer"] as? [String: Any], "\(String(describing: arm))")
    XCTAssertEqual(reg["anchor"] as? String, "startingPoint")
    XCTAssertEqual(reg["alpha"] as? Double ?? 0, 0.2, accuracy: 1e-6)

    // The old spelling gives the same strategy, and says what to write instead.
    let (oldRun, old) = try train("old", ["--strategy", "partial:2"])
    XCTAssertEqual(oldRun.status, 0, oldRun.stderr)
    XCTAssertEqual(old?["strategy"] as? String, "partial(2)")
    XCTAssertTrue(oldRun.stderr.contains("write --arm partial(2)"), oldRun.stderr)
  }

  func testArmsTrainCannotRunAreOneLineErrors() throws {
    for (extra, expected) in [
      (["--arm", "baseline:majority-class"], "baselines and adabn alone run in a study"),
      (["--arm", "full+nonsense"], "unknown component 'nonsense'"),
      (["--arm", "full", "--strategy", "scratch"], "not also as --strategy"),
    ] {
      let (result, _) = try train("bad", extra)
      XCTAssertNotEqual(result.status, 0, extra.joined(separator: " "))
      XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
      XCTAssertTrue(result.stderr.contains(expected), result.stderr)
    }
  }
}
