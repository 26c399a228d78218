import Datasets
import Foundation
import Randomness
import XCTest

final class SplitterTests: XCTestCase {
  /// 3 labels × 40 patients × 1–5 slices, synthetic (files are not touched by the splitter).
  func makeDataset(seed: UInt64 = 1) -> Dataset {
    var rng = SeededGenerator(seed: seed)
    var entries: [DatasetEntry] = []
    for label in ["a", "b", "c"] {
      for p in 0..<40 {
        for s in 0..<rng.integer(1...5) {
          let key = "\(label)/p\(p)/s\(s).dcm"
          entries.append(
            DatasetEntry(
              path: "/x/" + key, key: key, label: label,
              patient: "\(label)-\(p)", row: entries.count + 2))
        }
      }
    }
    return Dataset(source: "synthetic", entries: entries, labels: ["a", "b", "c"])
  }

  let fractions = [
    SplitAssignment.NamedFraction(name: "train", fraction: 0.6),
    .init(name: "val", fraction: 0.2), .init(name: "test", fraction: 0.2),
  ]

  func testNoPatientInTwoSplitsAndStratified() throws {
    let d = makeDataset()
    let s = try Splitter.split(d, fractions: fractions, seed: 42)
    var splitOfPatient: [String: String] = [:]
    for e in d.entries {
      let split = try XCTUnwrap(s.splitOf[e.key])
      if let prior = splitOfPatient[e.group] { XCTAssertEqual(prior, split, "patient leaked") }
      splitOfPatient[e.group] = split
    }
    for label in d.labels {
      let n = Double(d.entries.filter { $0.label == label }.count)
      for f in fractions {
        let k = Double(d.entries.filter { $0.label == label && s.splitOf[$0.key] == f.name }.count)
        XCTAssertEqual(k / n, f.fraction, accuracy: 0.06, "\(label) \(f.name)")
      }
    }
  }

  func testSeededReproducibleAndSerialisable() throws {
    let d = makeDataset()
    let a = try Splitter.split(d, fractions: fractions, seed: 42)
    let b = try Splitter.split(d, fractions: fractions, seed: 42)
    let c = try Splitter.split(d, fractions: fractions, seed: 43)
    XCTAssertEqual(a, b)
    XCTAssertNotEqual(a.splitOf, c.splitOf)
    let path = NSTemporaryDirectory() + "splits-\(UUID().uuidString).json"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try a.save(to: path)
    XCTAssertEqual(try SplitAssignment.load(from: path), a)
  }

  func testHandGivenSplitsPinTheirPatients() throws {
    var d = makeDataset()
    let pinnedPatient = d.entries[0].group
    d.entries[0].split = "test"
    let s = try Splitter.split(d, fractions: fractions, seed: 1)
    for e in d.entries where e.group == pinnedPatient { XCTAssertEqual(s.splitOf[e.key], "test") }
  }

  func testBudgetsAreNestedAndPerClass() throws {
    let d = makeDataset()
    let s = try Splitter.split(d, fractions: fractions, seed: 42)
    let train = s.indices(of: "train", in: d)
    let b10 = LabelBudget.perClass(10).select(from: train, in: d, seed: 5)
    let b25 = LabelBudget.perClass(25).select(from: train, in: d, seed: 5)
    let b50 = LabelBudget.fraction(0.5).select(from: train, in: d, seed: 5)
    let all = LabelBudget.all.select(from: train, in: d, seed: 5)
    XCTAssertTrue(Set(b10).isSubset(of: Set(b25)))
    XCTAssertTrue(Set(b25).isSubset(of: Set(all)))
    XCTAssertEqual(all, train)
    for label in d.labels {
      XCTAssertEqual(b10.filter { d.entries[$0].label == label }.count, 10)
      XCTAssertEqual(b25.filter { d.entries[$0].label == label }.count, 25)
      let n = train.filter { d.entries[$0].label == label }.count
      XCTAssertEqual(
        b50.filter { d.entries[$0].label == label }.count, Int((0.5 * Double(n)).rounded()))
    }
    // Small budgets spread over patients: 10 images come from 10 different patients.
    let patients = Set(b10.filter { d.entries[$0].label == "a" }.map { d.entries[$0].group })
    XCTAssertEqual(patients.count, 10)
    XCTAssertNotEqual(LabelBudget.perClass(10).select(from: train, in: d, seed: 6), b10)
    XCTAssertEqual(try LabelBudget.parse("10%"), .fraction(0.1))
    XCTAssertEqual(try LabelBudget.parse("50"), .perClass(50))
    XCTAssertThrowsError(try LabelBudget.parse("-3"))
  }
}
