import Foundation
import ScanIO
import TestSupport
import XCTest

/// Proves libpng and DCMTK are linked and really used (foundation checks).
final class FoundationIOTests: XCTestCase {
  func testPNGRoundTripThroughLibpng() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("gradient.png").path
    let gray = PNGImage(
      width: 7, height: 5, channels: .gray, pixels: (0..<35).map { UInt8($0 * 7) })
    try gray.write(path: path)
    // The file really is PNG (signature), and libpng reads it back unchanged.
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    XCTAssertEqual(try PNGImage.read(path: path), gray)
    let rgb = PNGImage(width: 3, height: 2, channels: .rgb, pixels: (0..<18).map { UInt8($0 * 13) })
    try rgb.write(path: path)
    XCTAssertEqual(try PNGImage.read(path: path), rgb)
  }

  func testDICOMRoundTripThroughDCMTK() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let rows = 16
    let columns = 24
    let pixels = (0..<(rows * columns)).map { UInt16(($0 * 37) % 4096) }
    for syntax in DicomWriter.TransferSyntax.allCases {
      let path = dir.appendingPathComponent("ct-\(syntax).dcm").path
      try DicomWriter.writeMono16(
        path: path, rows: rows, columns: columns, pixels: pixels, rescaleSlope: 1,
        rescaleIntercept: -1024, transferSyntax: syntax,
        attributes: [(0x0008_0070, "PhantomScan"), (0x0008_1090, "Model A")])
      let file = try DicomFile(path: path)
      XCTAssertEqual(file.transferSyntaxUID, syntax.rawValue, "\(syntax)")
      XCTAssertEqual(file.uint16(group: 0x0028, element: 0x0010), UInt16(rows))
      XCTAssertEqual(file.string(group: 0x0008, element: 0x0070), "PhantomScan")
      XCTAssertEqual(file.string(group: 0x0028, element: 0x1052), "-1024")
      let decoded: [UInt16] = try file.withPixelBytes { raw in
        Array(raw.bindMemory(to: UInt16.self).prefix(rows * columns))
      }
      XCTAssertEqual(decoded, pixels, "pixels differ after \(syntax) round trip")
    }
    XCTAssertTrue(DicomFile.dcmtkVersion.hasPrefix("3.6"))
  }

  func testNonDICOMFileIsRefusedWithTypedError() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("notes.txt").path
    try "hello, not a scan".write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try DicomFile(path: path)) { error in
      XCTAssertTrue(String(describing: error).contains(path))
    }
  }
}
