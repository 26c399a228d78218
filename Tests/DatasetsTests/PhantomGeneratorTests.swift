import Datasets
import Foundation
import ScanIO
import TestSupport
import XCTest

final class PhantomGeneratorTests: XCTestCase {
  func testShippedSpecParsesWithThreeDistinctSites() throws {
    let spec = Fixtures.spec
    XCTAssertEqual(spec.classes, ["normal", "solid-nodule", "spiculated-nodule", "ground-glass"])
    XCTAssertEqual(spec.sites.count, 3)
    XCTAssertGreaterThanOrEqual(spec.perClass, 600)
    XCTAssertGreaterThanOrEqual(spec.imageSize, 256)
    XCTAssertEqual(Set(spec.sites.map(\.photometric)), ["MONOCHROME1", "MONOCHROME2"])
    XCTAssertTrue(spec.sites.contains { $0.transferSyntax == "jpeg-ls-lossless" })
    XCTAssertTrue(spec.sites.contains { $0.transferSyntax == "rle" })
    XCTAssertEqual(Set(spec.sites.map(\.fovMM)).count, 3)
    for site in spec.sites {
      XCTAssertTrue(
        spec.classCounts(site: site, perClass: spec.perClass).allSatisfy { $0 >= spec.perClass })
    }
  }

  func testBadSpecNamesTheKey() {
    var text = Fixtures.specText
    text = text.replacingOccurrences(of: "bitsStored: 16", with: "bitsStored: 10")
    XCTAssertThrowsError(try PhantomSpec.parse(yaml: text, path: "x.yaml")) { error in
      XCTAssertTrue("\(error)".contains("bitsStored"), "\(error)")
      XCTAssertTrue("\(error)".contains("x.yaml"), "\(error)")
    }
    XCTAssertThrowsError(try PhantomSpec.parse(yaml: "name: x\n", path: "y.yaml")) { error in
      XCTAssertTrue("\(error)".contains("missing key"), "\(error)")
    }
  }

  func testPlanGroupsSlicesByPatientWithOneLabelEach() {
    let items = PhantomGenerator.plan(spec: Fixtures.spec, perClass: 20, seed: 3)
    var labelOf: [String: Int] = [:]
    var slices: [String: Int] = [:]
    for item in items {
      if let l = labelOf[item.patientID] { XCTAssertEqual(l, item.label) }
      labelOf[item.patientID] = item.label
      slices[item.patientID, default: 0] += 1
    }
    XCTAssertGreaterThan(slices.values.max()!, 1, "patients must have several slices")
    XCTAssertEqual(items, PhantomGenerator.plan(spec: Fixtures.spec, perClass: 20, seed: 3))
    XCTAssertNotEqual(items, PhantomGenerator.plan(spec: Fixtures.spec, perClass: 20, seed: 4))
    // Counts follow the priors with the rarest class at perClass.
    for (s, site) in Fixtures.spec.sites.enumerated() {
      let counts = (0..<4).map { c in items.filter { $0.site == s && $0.label == c }.count }
      XCTAssertEqual(counts, Fixtures.spec.classCounts(site: site, perClass: 20))
      XCTAssertEqual(counts.min(), 20)
    }
  }

  /// Same spec and seed → byte-identical pixel data, whether generated in parallel or not.
  func testRegenerationIsByteIdentical() throws {
    let dir = try makeTemporaryDirectory("phantom-regen").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let r = try PhantomGenerator.generate(
      spec: Fixtures.spec, specText: Fixtures.specText, outDirectory: dir, seed: 7, perClass: 2,
      size: 32)
    let first = try String(contentsOfFile: Fixtures.tiny + "/manifest.csv", encoding: .utf8)
    let second = try String(contentsOfFile: dir + "/manifest.csv", encoding: .utf8)
    XCTAssertEqual(first, second)
    let items = PhantomGenerator.plan(spec: Fixtures.spec, perClass: 2, seed: 7)
    XCTAssertEqual(items.count, r.images)
    for item in items {
      let a = try Fixtures.pixelBytes(Fixtures.tiny + "/" + item.relativePath)
      let b = try Fixtures.pixelBytes(dir + "/" + item.relativePath)
      XCTAssertEqual(a, b, item.relativePath)
      // Whole files too: DCMTK's JPEG-LS encoder left its odd-length pad byte unwritten, so
      // site-B files differed in one byte after the EOI marker from run to run.
      XCTAssertEqual(
        try Data(contentsOf: URL(fileURLWithPath: Fixtures.tiny + "/" + item.relativePath)),
        try Data(contentsOf: URL(fileURLWithPath: dir + "/" + item.relativePath)),
        "whole file \(item.relativePath)")
      // Serial rendering gives the same stored values as the parallel writer.
      let stored = PhantomGenerator.storedPixels(spec: Fixtures.spec, item: item, seed: 7, size: 32)
      let bytes = stored.flatMap { v -> [UInt8] in
        let w = UInt16(truncatingIfNeeded: v)
        return [UInt8(w & 0xFF), UInt8(w >> 8)]
      }
      XCTAssertEqual(a, bytes, item.relativePath)
    }
    // A different seed changes the pixels.
    let other = PhantomGenerator.storedPixels(
      spec: Fixtures.spec, item: items[0], seed: 8, size: 32)
    XCTAssertNotEqual(
      other, PhantomGenerator.storedPixels(spec: Fixtures.spec, item: items[0], seed: 7, size: 32))
  }

  /// The files carry each site's scanner profile, and the modality LUT recovers HU everywhere
  /// (including the inverted MONOCHROME1 site).
  func testFilesCarryScannerProfiles() throws {
    let dataset = try DatasetLoader.load(Fixtures.tiny)
    for site in Fixtures.spec.sites {
      let entry = dataset.entries.first { $0.domain == site.name }!
      let file = try DicomFile(path: entry.path)
      XCTAssertEqual(file.string(group: 0x0008, element: 0x0070), site.manufacturer)
      XCTAssertEqual(file.string(group: 0x0008, element: 0x1090), site.model)
      XCTAssertEqual(file.string(group: 0x0028, element: 0x0004), site.photometric)
      XCTAssertEqual(file.uint16(group: 0x0028, element: 0x0101), UInt16(site.bitsStored))
      XCTAssertEqual(file.transferSyntaxUID, PhantomSpec.transferSyntaxes[site.transferSyntax])
      let scan = try ScanLoader.load(path: entry.path)
      // Air outside the body is about −1000 HU (+ the site's calibration offset).
      let corner = scan.values[0]
      XCTAssertEqual(Double(corner), -1000 * site.huGain + site.huOffset, accuracy: 150, site.name)
      XCTAssertEqual(scan.pixelSpacing!.row, site.fovMM / 32, accuracy: 1e-3)
    }
  }
}
