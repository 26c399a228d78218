import Foundation
import ScanIO
import TestSupport
import XCTest

/// The general writer round-trips through the reader for every writable transfer syntax,
/// photometric, bit depth and signedness, and is deterministic when the UIDs are given.
final class DicomWriterTests: XCTestCase {
  func testEveryWritableVariantRoundTripsThroughScanImage() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let rows = 12
    let columns = 20
    for syntax in DicomWriter.TransferSyntax.allCases {
      for photometric in [Photometric.monochrome1, .monochrome2] {
        for (bits, signed) in [(10, true), (12, false), (12, true), (16, false), (16, true)] {
          let lo = signed ? -(1 << (bits - 1)) : 0
          let span = 1 << bits
          let stored = (0..<(rows * columns)).map { Int32(lo + ($0 * 977 + 13) % span) }
          var spec = DicomImageSpec(rows: rows, columns: columns, storedValues: stored)
          spec.photometric = photometric
          spec.bitsStored = bits
          spec.isSigned = signed
          spec.rescale = (0.5, -1024.25)
          spec.transferSyntax = syntax
          spec.attributes[.manufacturer] = "Phantom Medical"
          spec.set("ConvolutionKernel", "B30f")
          spec.set("PixelSpacing", "0.7\\0.8")
          spec.set("KVP", "120")
          let label = "\(syntax) \(photometric) \(bits)-bit \(signed ? "signed" : "unsigned")"
          let path = dir.appendingPathComponent(
            "\(label).dcm".replacingOccurrences(of: " ", with: "_")
          ).path
          try DicomWriter.write(spec, to: path)
          let image = try ScanIO.read(path: path)
          XCTAssertEqual(image.transferSyntaxUID, syntax.rawValue, label)
          XCTAssertEqual(image.photometric, photometric, label)
          XCTAssertEqual(image.bitsStored, bits, label)
          XCTAssertEqual(image.pixelRepresentation, signed ? 1 : 0, label)
          XCTAssertEqual(image.storedFrame(0), stored, label)
          let expected = stored.map { Float(Double($0) * 0.5 - 1024.25) }
          XCTAssertEqual(image.modalityFrame(0), expected, label)
          XCTAssertEqual(image.metadata.manufacturer, "Phantom Medical")
          XCTAssertEqual(image.metadata.convolutionKernel, "B30f")
          XCTAssertEqual(image.metadata.pixelSpacing, [0.7, 0.8])
          XCTAssertEqual(image.metadata.kvp, 120)
        }
      }
    }
  }

  func testGivenUIDsMakeTheFileByteIdentical() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var spec = DicomImageSpec(
      rows: 8, columns: 8, storedValues: (0..<64).map { Int32($0 * 50) })
    spec.transferSyntax = .jpegLSLossless
    spec.attributes[.studyInstanceUID] = DicomUID.derived(from: "study-1")
    spec.attributes[.seriesInstanceUID] = DicomUID.derived(from: "series-1")
    spec.attributes[.sopInstanceUID] = DicomUID.derived(from: "image-1")
    let a = dir.appendingPathComponent("a.dcm").path
    let b = dir.appendingPathComponent("b.dcm").path
    try DicomWriter.write(spec, to: a)
    try DicomWriter.write(spec, to: b)
    XCTAssertEqual(
      try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
    XCTAssertEqual(DicomUID.derived(from: "study-1"), DicomUID.derived(from: "study-1"))
    XCTAssertNotEqual(DicomUID.derived(from: "study-1"), DicomUID.derived(from: "study-2"))
    XCTAssertTrue(DicomUID.derived(from: "x").hasPrefix("2.25."))
    XCTAssertLessThanOrEqual(DicomUID.derived(from: "x").count, 64)
    let image = try ScanIO.read(path: a)
    XCTAssertEqual(image.metadata.sopInstanceUID, DicomUID.derived(from: "image-1"))
  }

  func testOutOfRangeStoredValueIsRefused() throws {
    var spec = DicomImageSpec(rows: 1, columns: 2, storedValues: [0, 4096])
    spec.bitsStored = 12
    XCTAssertThrowsError(try DicomWriter.write(spec, to: "/tmp/never-written.dcm")) { error in
      XCTAssertEqual((error as? ScanIOError)?.code, "invalidArgument")
    }
  }
}
