import Foundation
import TestSupport
import XCTest

/// `--on-bad` for the commands that decode images: one corrupt DICOM file in a phantom manifest.
/// The manifest has a patient column, so loading never opens the file: it fails only when it is
/// decoded for training, evaluation or the shift features.
final class BadDataCLITests: XCTestCase {
  /// The phantom folder, the corrupt file's manifest row and relative path.
  static let data: (directory: URL, row: Int, path: String) = {
    let dir = try! makeTemporaryDirectory("cli-bad-data")
    try! generatePhantom(in: dir, perClass: 3, size: 32, seed: 5)
    let manifest = try! String(
      contentsOf: dir.appendingPathComponent("manifest.csv"), encoding: .utf8)
    let lines = manifest.split(separator: "\n")
    let row = 5  // 1-based CSV line; a site-a image
    let path = String(lines[row - 1].split(separator: ",")[0])
    try! Data("not a DICOM file".utf8).write(to: dir.appendingPathComponent(path))
    return (dir, row, path)
  }()

  override class func tearDown() {
    try? FileManager.default.removeItem(at: data.directory)
    super.tearDown()
  }

  var manifest: String { Self.data.directory.appendingPathComponent("manifest.csv").path }

  /// Asserts that `r` failed with one error line naming the row, the file and the fix.
  func assertFailsNamingTheRow(
    _ r: CommandResult, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertNotEqual(r.status, 0, file: file, line: line)
    let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
    XCTAssertEqual(errors.count, 1, r.stderr, file: file, line: line)
    let error = errors.first.map(String.init) ?? ""
    XCTAssertTrue(
      error.contains("row \(Self.data.row) (\(Self.data.path))"), error, file: file, line: line)
    XCTAssertTrue(error.contains("undecodable"), error, file: file, line: line)
    XCTAssertTrue(error.contains("--on-bad skip"), error, file: file, line: line)
    XCTAssertFalse(r.stderr.contains("Fatal"), r.stderr, file: file, line: line)
  }

  /// Asserts that `r` succeeded and listed the corrupt row once on stderr.
  func assertSkippedTheRow(_ r: CommandResult, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
    let listed = r.stderr.split(separator: "\n").filter {
      $0.contains("row \(Self.data.row) (\(Self.data.path)): undecodable")
    }
    XCTAssertEqual(listed.count, 1, r.stderr, file: file, line: line)
  }

  func testTrainAndEvaluateFailByDefaultAndSkipWithOnBadSkip() throws {
    let runs = Self.data.directory.appendingPathComponent("runs")
    let train = [
      "train", "--data", manifest, "--init", "scratch", "--strategy", "scratch", "--epochs", "1",
      "--size", "32", "--batch-size", "8",
    ]
    assertFailsNamingTheRow(
      try runMedtransfer(train + ["--out", runs.appendingPathComponent("fail").path]))

    let run = runs.appendingPathComponent("skip")
    let skipped = try runMedtransfer(train + ["--out", run.path, "--on-bad", "skip"])
    assertSkippedTheRow(skipped)
    // The run folder keeps the list, and the row is in no split's images.
    let config =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: run.appendingPathComponent("config.json"))) as! [String: Any]
    let data = config["data"] as! [String: Any]
    let rows = try XCTUnwrap(data["skipped"] as? [[String: Any]])
    XCTAssertEqual(rows.map { $0["row"] as? Int }, [Self.data.row])
    let counts = data["counts"] as! [String: Int]
    let manifestRows =
      try String(contentsOfFile: manifest, encoding: .utf8)
      .split(separator: "\n").count - 1
    XCTAssertEqual(counts.values.reduce(0, +), manifestRows - 1)

    let evaluate = ["evaluate", "--checkpoint", run.path, "--data", manifest, "--json"]
    assertFailsNamingTheRow(try runMedtransfer(evaluate))
    let evaluated = try runMedtransfer(evaluate + ["--on-bad", "skip"])
    assertSkippedTheRow(evaluated)
    let report =
      try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any]
    XCTAssertEqual((report["overall"] as? [String: Any])?["count"] as? Int, manifestRows - 1)
  }

  func testShiftFailsByDefaultAndSkipsWithOnBadSkip() throws {
    try skipUnlessLite0IsCached()
    let shift = [
      "shift", "--source", manifest, "--source-domain", "site-a", "--target-domain", "site-b",
      "--input-size", "32", "--permutations", "19", "--bootstrap", "10",
      "--covariance-bootstrap", "2", "--embedding", "none", "--no-logme", "--json",
    ]
    assertFailsNamingTheRow(try runMedtransfer(shift))
    let skipped = try runMedtransfer(shift + ["--on-bad", "skip"])
    assertSkippedTheRow(skipped)
    let doc = try JSONSerialization.jsonObject(with: Data(skipped.stdout.utf8)) as! [String: Any]
    let siteA = try String(contentsOfFile: manifest, encoding: .utf8).split(separator: "\n")
      .filter { $0.contains(",site-a,") }.count
    XCTAssertEqual((doc["source"] as? [String: Any])?["images"] as? Int, siteA - 1)
  }
}
