import Foundation
import TestSupport
import XCTest

/// `medtransfer shift` end to end: the real binary on a tiny generated phantom.
final class ShiftCLITests: XCTestCase {
  static let directory: URL = {
    let dir = try! makeTemporaryDirectory("cli-shift")
    try! generatePhantom(in: dir, perClass: 3, size: 64, seed: 11)
    return dir
  }()

  override class func tearDown() {
    try? FileManager.default.removeItem(at: directory)
    super.tearDown()
  }

  func requireWeights() throws { try skipUnlessLite0IsCached() }

  func testSiteAVersusSiteBJSONAndPlot() throws {
    try requireWeights()
    let manifest = Self.directory.appendingPathComponent("manifest.csv").path
    let svgPath = Self.directory.appendingPathComponent("embedding.svg").path
    let result = try runMedtransfer([
      "shift", "--source", manifest, "--source-domain", "site-a", "--target-domain", "site-b",
      "--input-size", "64", "--permutations", "199", "--bootstrap", "100",
      "--covariance-bootstrap", "10", "--seed", "3", "--json", "--plot", svgPath,
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    let doc = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
    XCTAssertEqual(doc["model"] as? String, "efficientnet-lite0")
    let source = doc["source"] as! [String: Any]
    let target = doc["target"] as! [String: Any]
    XCTAssertEqual(source["domain"] as? String, "site-a")
    XCTAssertEqual(target["domain"] as? String, "site-b")
    // Each site's images go in through their own file window (the `auto` policy).
    let input = doc["preprocessing"] as? String ?? ""
    XCTAssertTrue(input.hasPrefix("window auto, 64 px"), input)
    XCTAssertTrue(input.contains("site-a: file window C -600 W 1500 ("), input)
    XCTAssertTrue(input.contains("site-b: file window C -550 W 1600 ("), input)
    let analysis = doc["analysis"] as! [String: Any]
    XCTAssertEqual(analysis["featureDimension"] as? Int, 1280)
    XCTAssertEqual(analysis["sourceCount"] as? Int, source["images"] as? Int)
    let mmd = analysis["mmd"] as! [String: Any]
    XCTAssertEqual(mmd["permutations"] as? Int, 199)
    let p = mmd["pValue"] as! Double
    XCTAssertTrue(p >= 1.0 / 200 && p <= 1, "p = \(p)")
    for key in ["proxyADistance", "frechetDistance", "coralDistance"] {
      let estimate = analysis[key] as! [String: Any]
      XCTAssertNotNil(estimate["value"] as? Double, key)
      XCTAssertNotNil(estimate["interval"] as? [String: Any], key)
    }
    // The phantom's sites differ in window-independent ways the pipeline must see: headers.
    let headers = analysis["headers"] as! [String: Any]
    let differing = headers["differing"] as! [String]
    for attribute in [
      "Manufacturer", "ManufacturerModelName", "ConvolutionKernel", "PixelSpacing",
      "PhotometricInterpretation",
    ] {
      XCTAssertTrue(differing.contains(attribute), "\(attribute) not in \(differing)")
    }
    // Intensities: site B's +35 HU offset and smoother kernel; every statistic is compared.
    let intensity = analysis["intensity"] as! [[String: Any]]
    XCTAssertEqual(
      Set(intensity.map { $0["statistic"] as! String }),
      ["mean", "std", "p01", "p05", "p25", "p50", "p75", "p95", "p99"])
    XCTAssertNotNil(analysis["histograms"] as? [String: Any])
    XCTAssertNotNil(analysis["labels"] as? [String: Any])
    let tests = analysis["tests"] as! [[String: Any]]
    XCTAssertEqual(tests.count, 1 + intensity.count)
    XCTAssertTrue(
      tests.allSatisfy { ($0["adjustedPValue"] as! Double) >= ($0["pValue"] as! Double) })
    let embedding = analysis["embedding"] as! [String: Any]
    XCTAssertEqual((embedding["source"] as! [Any]).count, source["images"] as? Int)
    XCTAssertEqual((embedding["target"] as! [Any]).count, target["images"] as? Int)
    // LogME: the compared backbone on ImageNet weights and its random-init baseline at least.
    let transfer = doc["transferability"] as! [[String: Any]]
    let kinds = transfer.map { "\($0["backbone"] as! String)/\($0["initialization"] as! String)" }
    XCTAssertTrue(kinds.contains("efficientnet-lite0/imagenet"), "\(kinds)")
    XCTAssertTrue(kinds.contains("efficientnet-lite0/random"), "\(kinds)")
    XCTAssertTrue(transfer.allSatisfy { ($0["logME"] as! Double).isFinite })
    XCTAssertFalse((doc["notes"] as! [String]).isEmpty)
    // The plot: a standalone SVG with both domains in the legend and labelled axes.
    let svg = try String(contentsOfFile: svgPath, encoding: .utf8)
    XCTAssertTrue(svg.hasPrefix("<?xml"), String(svg.prefix(80)))
    XCTAssertTrue(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    XCTAssertTrue(svg.contains("site-a (n = \(source["images"] as! Int))"))
    XCTAssertTrue(svg.contains("site-b (n = \(target["images"] as! Int))"))
    XCTAssertTrue(svg.contains("PC1") && svg.contains("PC2"))
    let circles = svg.components(separatedBy: "<circle").count - 1
    XCTAssertEqual(circles, (source["images"] as! Int) + (target["images"] as! Int) + 2)
  }

  func testDisjointHalvesOfOneSiteAndTextOutput() throws {
    try requireWeights()
    let result = try runMedtransfer([
      "shift", "--source", Self.directory.path, "--source-domain", "site-a",
      "--target-domain", "site-a", "--source-split", "a", "--target-split", "b",
      "--splits", "a=0.5,b=0.5", "--input-size", "64", "--permutations", "99",
      "--bootstrap", "50", "--covariance-bootstrap", "0", "--no-logme",
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.contains("site-a (a)"), result.stdout)
    XCTAssertTrue(result.stdout.contains("MMD²"), result.stdout)
    XCTAssertTrue(result.stdout.contains("headers differing: none"), result.stdout)
  }

  /// `--checkpoint`: a trained run's features instead of ImageNet's, at the run's input size;
  /// a folder that is not a run is a one-line error naming it.
  func testCheckpointComparesTheTrainedNetworksFeatures() throws {
    try requireWeights()
    let run = Self.directory.appendingPathComponent("run-a")
    let train = try runMedtransfer([
      "train", "--data", Self.directory.path, "--domain", "site-a", "--strategy", "full",
      "--epochs", "1", "--size", "48", "--batch-size", "4", "--out", run.path,
    ])
    XCTAssertEqual(train.status, 0, train.stderr)
    let result = try runMedtransfer([
      "shift", "--source", Self.directory.path, "--source-domain", "site-a",
      "--target-domain", "site-b", "--checkpoint", run.path, "--permutations", "99",
      "--bootstrap", "50", "--covariance-bootstrap", "0", "--json",
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    let json = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(json["inputSize"] as? Int, 48, "the run's input size, not the default 128")
    XCTAssertTrue((json["model"] as? String ?? "").contains("trained"), "\(json["model"] ?? "nil")")
    XCTAssertEqual((json["transferability"] as? [Any])?.count ?? 0, 0, "LogME is skipped")

    // --layer softmax: the run's class probabilities (one column per class, rows sum to 1 so
    // the mean confidence is at least 1/classes) and their summary.
    let bbsd = try runMedtransfer([
      "shift", "--source", Self.directory.path, "--source-domain", "site-a",
      "--target-domain", "site-b", "--checkpoint", run.path, "--layer", "softmax",
      "--permutations", "99", "--bootstrap", "50", "--covariance-bootstrap", "0", "--json",
    ])
    XCTAssertEqual(bbsd.status, 0, bbsd.stderr)
    let b = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(bbsd.stdout.utf8)) as? [String: Any])
    let classes = try XCTUnwrap(b["classes"] as? [String])
    XCTAssertEqual((b["analysis"] as? [String: Any])?["featureDimension"] as? Int, classes.count)
    let predictions = try XCTUnwrap(b["predictions"] as? [String: Any])
    for side in ["source", "target"] {
      let confidence = try XCTUnwrap(predictions["\(side)MeanConfidence"] as? Double)
      XCTAssertTrue(
        confidence >= 1 / Double(classes.count) - 1e-6 && confidence <= 1 + 1e-6, "\(confidence)")
      let shares = try XCTUnwrap(predictions["\(side)Predicted"] as? [String: Double])
      XCTAssertEqual(shares.values.reduce(0, +), 1, accuracy: 1e-9)
    }
    XCTAssertEqual(
      predictions["confidenceDrop"] as? Double ?? .nan,
      (predictions["sourceMeanConfidence"] as! Double)
        - (predictions["targetMeanConfidence"] as! Double),
      accuracy: 1e-12)

    let bad = try runMedtransfer([
      "shift", "--source", Self.directory.path, "--source-domain", "site-a",
      "--target-domain", "site-b", "--checkpoint", Self.directory.path, "--json",
    ])
    XCTAssertNotEqual(bad.status, 0)
    let lines = bad.stderr.split(separator: "\n").filter { !$0.hasPrefix("shift: ") }
    XCTAssertEqual(lines.count, 1, bad.stderr)
    XCTAssertTrue(bad.stderr.contains("no config.json"), bad.stderr)
  }

  /// `--layer`: an earlier layer's pooled output is compared (its own width), and LogME still
  /// scores the penultimate features.
  func testLayerSelectsAnEarlierLayer() throws {
    try requireWeights()
    let result = try runMedtransfer([
      "shift", "--source", Self.directory.path, "--source-domain", "site-a",
      "--target-domain", "site-b", "--layer", "stage3", "--input-size", "64",
      "--permutations", "99", "--bootstrap", "50", "--covariance-bootstrap", "0", "--json",
    ])
    XCTAssertEqual(result.status, 0, result.stderr)
    let doc = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    XCTAssertEqual(doc["layer"] as? String, "stage3")
    let analysis = try XCTUnwrap(doc["analysis"] as? [String: Any])
    XCTAssertEqual(analysis["featureDimension"] as? Int, 40)
    let transfer = try XCTUnwrap(doc["transferability"] as? [[String: Any]])
    let imagenet = transfer.filter {
      $0["backbone"] as? String == "efficientnet-lite0"
        && $0["initialization"] as? String == "imagenet"
    }
    XCTAssertEqual(imagenet.count, 1, "\(transfer)")
    XCTAssertEqual(imagenet.first?["featureDimension"] as? Int, 1280)
  }

  func testBadInputsAreOneLineErrors() throws {
    let manifest = Self.directory.appendingPathComponent("manifest.csv").path
    let cases: [([String], String)] = [
      (["shift", "--source", "/nonexistent/manifest.csv", "--json"], "/nonexistent/manifest.csv"),
      (["shift", "--source", manifest, "--source-domain", "site-z", "--json"], "site-z"),
      (
        [
          "shift", "--source", manifest, "--source-domain", "site-a", "--target-domain", "site-a",
          "--json",
        ], "on both sides"
      ),
      (
        [
          "shift", "--source", manifest, "--source-domain", "site-a", "--target-domain", "site-b",
          "--model", "resnet50", "--json",
        ], "resnet50"
      ),
      (["shift", "--source", manifest, "--embedding", "umap"], "umap"),
      (["shift", "--source", manifest, "--layer", "stage9"], "stage9"),
      (["shift", "--source", manifest, "--layer", "softmax"], "--checkpoint"),
    ]
    for (arguments, needle) in cases {
      let result = try runMedtransfer(arguments)
      XCTAssertNotEqual(result.status, 0, arguments.joined(separator: " "))
      XCTAssertTrue(result.stdout.isEmpty, result.stdout)
      let lines = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("shift: ") }
      XCTAssertEqual(lines.count, 1, result.stderr)
      XCTAssertTrue(result.stderr.contains(needle), "\(needle) not in \(result.stderr)")
      XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
    }
  }
}
