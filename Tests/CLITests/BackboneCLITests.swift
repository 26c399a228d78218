import Foundation
import TestSupport
import XCTest

/// `medtransfer backbone …` and `bench train|infer|probe` on the real binary.
final class BackboneCLITests: XCTestCase {
  var cache: URL { medtransferCache }

  func testListJSON() throws {
    let result = try runMedtransfer(["backbone", "list", "--json"])
    XCTAssertEqual(result.status, 0, result.stderr)
    let rows = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
    XCTAssertEqual(
      rows?.compactMap { $0["name"] as? String },
      ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
  }

  func testUnknownModelIsOneLineError() throws {
    let result = try runMedtransfer(["backbone", "fetch", "resnet50"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.stderr.contains("unknown model 'resnet50'"), result.stderr)
    XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
  }

  /// scikit-image's chelsea.png (scripts/bootstrap.d/imagenet-samples.sh): a cat, 281–285.
  func testClassifyChelseaJSONLines() throws {
    let chelsea = cache.appendingPathComponent("imagenet-samples/chelsea.png").path
    let coffee = cache.appendingPathComponent("imagenet-samples/coffee.png").path
    let weights = cache.appendingPathComponent("weights/efficientnet-lite0-57934424.pth").path
    for path in [chelsea, coffee, weights] where !FileManager.default.fileExists(atPath: path) {
      throw XCTSkip("\(path) missing; run scripts/bootstrap")
    }
    let result = try runMedtransfer(
      [
        "backbone", "classify", "--model", "efficientnet-lite0", chelsea, coffee, "--top", "3",
        "--json",
      ])
    XCTAssertEqual(result.status, 0, result.stderr)
    let lines = result.stdout.split(separator: "\n").map { String($0) }
    XCTAssertEqual(lines.count, 2, result.stdout)
    let objects = try lines.map {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
    XCTAssertEqual(objects[0]["image"] as? String, chelsea)
    let catTop = (objects[0]["top"] as! [[String: Any]]).map { $0["index"] as! Int }
    let coffeeTop = (objects[1]["top"] as! [[String: Any]]).map { $0["index"] as! Int }
    XCTAssertEqual(catTop.count, 3)
    XCTAssertTrue((281...285).contains(catTop[0]), "chelsea → \(catTop)")
    XCTAssertTrue(coffeeTop.prefix(2).contains { $0 == 967 || $0 == 968 }, "coffee → \(coffeeTop)")
  }

  /// scikit-image's rocket.jpg (scripts/bootstrap.d/imagenet-samples.sh), a baseline JPEG photo
  /// of a Saturn V: missile / projectile / space shuttle (657, 744, 812). A JPEG cut short next
  /// to it is reported on stderr with the file and skipped; the exit code is then 1.
  func testClassifyJPEGAndSkipABrokenOne() throws {
    let rocket = cache.appendingPathComponent("imagenet-samples/rocket.jpg").path
    let weights = cache.appendingPathComponent("weights/efficientnet-lite0-57934424.pth").path
    for path in [rocket, weights] where !FileManager.default.fileExists(atPath: path) {
      throw XCTSkip("\(path) missing; run scripts/bootstrap")
    }
    let dir = try makeTemporaryDirectory("classify-jpeg")
    defer { try? FileManager.default.removeItem(at: dir) }
    let broken = dir.appendingPathComponent("broken.jpg").path
    let bytes = try Data(contentsOf: URL(fileURLWithPath: rocket))
    try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: broken))

    let result = try runMedtransfer(
      [
        "backbone", "classify", "--model", "efficientnet-lite0", broken, rocket, "--top", "3",
        "--json",
      ])
    XCTAssertEqual(result.status, 1, result.stderr)
    let lines = result.stdout.split(separator: "\n").map { String($0) }
    guard lines.count == 1 else { return XCTFail("one JSON line expected: \(result)") }
    let object = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
    XCTAssertEqual(object?["image"] as? String, rocket)
    let top = (object?["top"] as? [[String: Any]] ?? []).compactMap { $0["index"] as? Int }
    XCTAssertTrue([657, 744, 812].contains(top.first ?? -1), "rocket → \(top)")
    XCTAssertTrue(
      result.stderr.contains("\(broken): JPEG error (Premature end of JPEG file)"), result.stderr)
    XCTAssertTrue(result.stderr.contains("1 of 2 images could not be classified"), result.stderr)
    XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
  }

  func testBenchInferJSON() throws {
    let result = try runMedtransfer(
      [
        "bench", "infer", "--batch", "2", "--size", "64", "--iterations", "1", "--warmup", "0",
        "--json",
      ])
    XCTAssertEqual(result.status, 0, result.stderr)
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    XCTAssertNotNil(object?["images_per_second"] as? Double)
    XCTAssertGreaterThan(object?["peak_rss_bytes"] as? Int ?? 0, 0)
  }
}
