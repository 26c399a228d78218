import Foundation
import TestSupport
import XCTest

/// `--window` reaches the preprocessing of `train` and `evaluate`, and a run's config.json
/// records the policy and the windows its images got; the real binary on a tiny phantom (its
/// DICOM files and its 8-bit preview PNGs), with scratch networks so no weights are needed.
final class WindowCLITests: XCTestCase {
  private var dir: URL!
  private var cache: URL { dir.appendingPathComponent("cache") }
  private var phantom: String { dir.appendingPathComponent("phantom").path }

  override func setUpWithError() throws {
    dir = try makeTemporaryDirectory("cli-window")
    let spec = packageRoot.appendingPathComponent("datasets/chest-ct-sites.yaml").path
    let gen = try runMedtransfer([
      "dataset", "generate", spec, "--out", phantom, "--per-class", "2", "--size", "32",
      "--seed", "5", "--previews", "2",
    ])
    XCTAssertEqual(gen.status, 0, gen.stderr)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  /// A manifest of the phantom's preview PNGs (`<site>-<class>-<k>.png`), labelled by class.
  func writePNGManifest() throws -> (path: String, images: Int) {
    let previews = try FileManager.default.contentsOfDirectory(atPath: phantom + "/previews")
      .filter { $0.hasSuffix(".png") }.sorted()
    var csv = "path,label\n"
    for name in previews {
      let parts = name.dropLast(4).split(separator: "-")
      csv += "previews/\(name),\(parts[2..<(parts.count - 1)].joined(separator: "-"))\n"
    }
    let path = phantom + "/previews.csv"
    try csv.write(toFile: path, atomically: true, encoding: .utf8)
    return (path, previews.count)
  }

  func train(_ data: String, _ out: String, _ extra: [String] = []) throws -> [String: Any] {
    let result = try runMedtransfer(
      [
        "train", "--data", data, "--strategy", "scratch", "--epochs", "1", "--size", "32",
        "--batch-size", "4", "--patience", "0", "--out", out,
      ] + extra, environment: ["MEDTRANSFER_CACHE": cache.path])
    XCTAssertEqual(result.status, 0, result.stderr)
    let config = try Data(contentsOf: URL(fileURLWithPath: out + "/config.json"))
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: config) as? [String: Any])
    return try XCTUnwrap(json["data"] as? [String: Any])
  }

  /// The windows of the cache folders (one per preprocessing) under the test's cache.
  func cachedWindows() throws -> [String] {
    let tensors = cache.appendingPathComponent("tensors")
    return try FileManager.default.contentsOfDirectory(atPath: tensors.path).sorted().map {
      let description = tensors.appendingPathComponent("\($0)/preprocessing.json")
      let json = try JSONSerialization.jsonObject(with: Data(contentsOf: description))
      let window = (json as? [String: Any])?["window"] ?? "?"
      return String(describing: window).filter { !$0.isWhitespace }
    }
  }

  func testWindowOptionReachesTrainingAndEvaluation() throws {
    let (images, count) = try writePNGManifest()
    XCTAssertGreaterThanOrEqual(count, 12)
    let plain = try train(images, dir.appendingPathComponent("auto").path)
    XCTAssertEqual(plain["window"] as? String, "auto")
    XCTAssertEqual(plain["windows"] as? [String: Int], ["8-bit picture as is (0–255)": count])

    // A negative centre is a value, not an option.
    let lung = try train(
      images, dir.appendingPathComponent("lung").path, ["--window", "-600,1500"])
    XCTAssertEqual(lung["window"] as? String, "-600,1500")

    let soft = dir.appendingPathComponent("soft").path
    let data = try train(images, soft, ["--window", "40,400"])
    XCTAssertEqual(data["window"] as? String, "40,400")
    XCTAssertEqual(data["windows"] as? [String: Int], ["fixed window C 40 W 400": count])
    XCTAssertTrue((data["preprocessing"] as? String ?? "").contains("\"fixed\""))
    XCTAssertNotEqual(
      data["preprocessingSHA256"] as? String, plain["preprocessingSHA256"] as? String)
    XCTAssertEqual(try cachedWindows().count, 3)

    // evaluate preprocesses with the run's own window (no new cache folder) unless told.
    let evaluate = ["evaluate", "--checkpoint", soft, "--data", images, "--json"]
    let same = try runMedtransfer(evaluate, environment: ["MEDTRANSFER_CACHE": cache.path])
    XCTAssertEqual(same.status, 0, same.stderr)
    XCTAssertEqual(try cachedWindows().count, 3)
    let other = try runMedtransfer(
      evaluate + ["--window", "p1,99"], environment: ["MEDTRANSFER_CACHE": cache.path])
    XCTAssertEqual(other.status, 0, other.stderr)
    let windows = try cachedWindows()
    XCTAssertEqual(windows.count, 4)
    XCTAssertTrue(windows.contains { $0.contains("percentile") }, "\(windows)")

    // A bad window is one line naming the option, the text and the fix; nothing is trained.
    for command in [
      [
        "train", "--data", images, "--window", "wide", "--out",
        dir.appendingPathComponent("x").path,
      ],
      evaluate + ["--window", "wide"],
      ["shift", "--source", images, "--window", "wide"],
    ] {
      let bad = try runMedtransfer(command, environment: ["MEDTRANSFER_CACHE": cache.path])
      XCTAssertNotEqual(bad.status, 0, command.joined(separator: " "))
      let lines = bad.stderr.split(separator: "\n")
      XCTAssertEqual(lines.count, 1, bad.stderr)
      XCTAssertTrue(
        bad.stderr.contains("--window 'wide': not a window setting; use auto"), bad.stderr)
    }
  }

  /// The phantom's DICOM files carry their site's window: `auto` uses it (site B: C −550,
  /// W 1600), and CT in MONOCHROME1 keeps its Hounsfield units (no inversion).
  func testPhantomSitesUseTheirOwnWindows() throws {
    let data = try train(
      phantom, dir.appendingPathComponent("site-b").path, ["--domain", "site-b"])
    let windows = try XCTUnwrap(data["windows"] as? [String: Int])
    XCTAssertEqual(Array(windows.keys), ["file window C -550 W 1600"], "\(windows)")
  }
}
