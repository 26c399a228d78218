import Datasets
import Foundation
import ScanIO
import TestSupport
import XCTest

@testable import Adaptation

/// `DataPreparation` with an image that fails only when decoded (a PNG: the loader never opens
/// it), in the label budget of the train split.
final class DataPreparationTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = try makeTemporaryDirectory("data-preparation").path
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

  /// Two classes of 8 train, 2 val and 2 test PNGs (one patient each, splits by hand); the
  /// file of the first image a 3-per-class budget picks for class `x` is then made corrupt.
  func writeData() throws -> (manifest: String, corrupt: DatasetEntry, budget4: Set<String>) {
    var csv = "path,label,patient,split\n"
    for label in ["x", "y"] {
      for i in 0..<12 {
        let split = i < 8 ? "train" : i < 10 ? "val" : "test"
        let path = "\(label)/\(i).png"
        var pixels: [UInt8] = []
        for k in 0..<64 { pixels.append(UInt8((k * 7 + i * 13 + (label == "x" ? 0 : 101)) % 256)) }
        try FileManager.default.createDirectory(
          atPath: dir + "/" + label, withIntermediateDirectories: true)
        try PNGImage(width: 8, height: 8, channels: .gray, pixels: pixels)
          .write(path: dir + "/" + path)
        csv += "\(path),\(label),\(label)-\(i),\(split)\n"
      }
    }
    let manifest = dir + "/manifest.csv"
    try csv.write(toFile: manifest, atomically: true, encoding: .utf8)
    let dataset = try DatasetLoader.load(manifest)
    let train = dataset.entries.indices.filter { dataset.entries[$0].split == "train" }
    let chosen = LabelBudget.perClass(3).select(from: train, in: dataset, seed: 4)
    let corrupt = dataset.entries[chosen.first { dataset.entries[$0].label == "x" }!]
    let budget4 = Set(
      LabelBudget.perClass(4).select(from: train, in: dataset, seed: 4).map {
        dataset.entries[$0].key
      })
    try Data("not a PNG".utf8).write(to: URL(fileURLWithPath: corrupt.path))
    return (manifest, corrupt, budget4)
  }

  func request(_ manifest: String, onBad: OnBad) -> DataRequest {
    DataRequest(
      source: manifest, inputSize: 16, labelsPerClass: 3, seed: 4,
      splits: "train=0.6,val=0.2,test=0.2", onBad: onBad)
  }

  func testUndecodableImageFailsByDefaultNamingItsRow() throws {
    let (manifest, corrupt, _) = try writeData()
    XCTAssertThrowsError(try DataPreparation.prepare(request(manifest, onBad: .fail))) { error in
      guard case DatasetsError.badRows(_, let rows) = error else { return XCTFail("\(error)") }
      XCTAssertEqual(rows.map(\.row), [corrupt.row])
      XCTAssertEqual(rows.map(\.reason), [.undecodable])
      XCTAssertTrue("\(error)".contains("(\(corrupt.key))"), "\(error)")
      XCTAssertTrue("\(error)".contains("--on-bad skip"), "\(error)")
    }
  }

  /// Under skip the budget still holds 3 images per class: the next image of the budget's order
  /// takes the corrupt one's place (so budgets stay nested), and the row is reported.
  func testUndecodableImageIsSkippedAndReplacedInTheBudget() throws {
    let (manifest, corrupt, budget4) = try writeData()
    let prepared = try DataPreparation.prepare(request(manifest, onBad: .skip))
    XCTAssertEqual(prepared.notes.skipped.map(\.row), [corrupt.row])
    XCTAssertEqual(prepared.notes.skipped.map(\.reason), [.undecodable])
    XCTAssertEqual(prepared.provenance.skipped?.map(\.row), [corrupt.row])
    let train = prepared.data.train
    XCTAssertEqual(train.count, 6)
    XCTAssertEqual(train.allImages.shape[0], 6)
    XCTAssertEqual(train.labels.filter { $0 == 0 }.count, 3)
    XCTAssertEqual(train.labels.filter { $0 == 1 }.count, 3)
    XCTAssertEqual(train.domains?.count, 6)
    XCTAssertEqual(prepared.provenance.counts["train"], 6)
    XCTAssertEqual(prepared.data.validation?.count, 4)
    XCTAssertEqual(prepared.data.test?.count, 4)
    // The images are the 4-per-class budget without the corrupt one, labels aligned: each row
    // of the tensor is the preprocessed file of its label.
    let dataset = try DatasetLoader.load(manifest)
    let cache = try TensorCache(
      preprocessing: DataPreparation.preprocessing(inputSize: 16, channels: 3))
    let expected = budget4.subtracting([corrupt.key]).sorted()
    XCTAssertEqual(expected.count, 7)
    var matched = 0
    let images = train.allImages
    for row in 0..<train.count {
      let values = Array(
        UnsafeBufferPointer(
          start: images.data + row * train.imageSize, count: train.imageSize))
      for key in expected {
        let entry = dataset.entries.first { $0.key == key }!
        if try cache.image(path: entry.path).array == values {
          XCTAssertEqual(dataset.labels[train.labels[row]], entry.label, key)
          matched += 1
        }
      }
    }
    XCTAssertEqual(matched, 6, "every train image is one of the 4-per-class budget's")
  }
}
