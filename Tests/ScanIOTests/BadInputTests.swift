import Foundation
import ScanIO
import TestSupport
import XCTest

/// Bad input gets a typed error with a stable code and a message naming the file; never a
/// crash, a hang or garbage pixels.
final class BadInputTests: XCTestCase {
  private var dir: URL!

  override func setUpWithError() throws {
    dir = try makeTemporaryDirectory()
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: dir)
  }

  private func writeCT(_ name: String, syntax: DicomWriter.TransferSyntax = .explicitLittleEndian)
    throws -> String
  {
    let path = dir.appendingPathComponent(name).path
    var spec = DicomImageSpec(
      rows: 32, columns: 32, storedValues: (0..<1024).map { Int32($0 % 4000) })
    spec.transferSyntax = syntax
    try DicomWriter.write(spec, to: path)
    return path
  }

  private func assertCode(
    _ path: String, _ codes: Set<String>, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsError(try ScanIO.read(path: path), file: file, line: line) { error in
      guard let error = error as? ScanIOError else {
        return XCTFail("untyped error \(error)", file: file, line: line)
      }
      XCTAssertTrue(codes.contains(error.code), "\(error.code): \(error)", file: file, line: line)
      XCTAssertTrue(error.description.contains(path), "\(error)", file: file, line: line)
    }
  }

  func testTruncatedFilesAreRefused() throws {
    for syntax in [DicomWriter.TransferSyntax.explicitLittleEndian, .implicitLittleEndian, .rle] {
      let path = try writeCT("full-\(syntax).dcm", syntax: syntax)
      let data = try Data(contentsOf: URL(fileURLWithPath: path))
      for keep in [data.count - 1, data.count - 700, data.count / 2, 200] {
        let cut = dir.appendingPathComponent("cut-\(syntax)-\(keep).dcm").path
        try data.prefix(keep).write(to: URL(fileURLWithPath: cut))
        assertCode(cut, ["truncated", "notDICOM", "decodeFailed", "noPixelData"])
      }
    }
  }

  func testPixelDataShorterThanDeclaredIsTruncated() throws {
    // A consistent file whose header claims more rows than the pixel data holds.
    let path = try writeCT("short.dcm")
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    // Rows (0028,0010) US 32 -> 40, in explicit VR little endian: 28 00 10 00 'US' 02 00 20 00.
    let pattern: [UInt8] = [0x28, 0x00, 0x10, 0x00, 0x55, 0x53, 0x02, 0x00, 0x20, 0x00]
    let range = try XCTUnwrap(data.firstRange(of: Data(pattern)))
    data[range.upperBound - 2] = 40
    try data.write(to: URL(fileURLWithPath: path))
    assertCode(path, ["truncated"])
  }

  func testMissingPhotometricIsMissingAttribute() throws {
    let path = try writeCT("nophoto.dcm")
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    // Rename (0028,0004) to an unknown private-ish tag (0028,0005 does not exist in images).
    let pattern: [UInt8] = [0x28, 0x00, 0x04, 0x00, 0x43, 0x53]
    let range = try XCTUnwrap(data.firstRange(of: Data(pattern)))
    data[range.lowerBound + 2] = 0x05
    try data.write(to: URL(fileURLWithPath: path))
    assertCode(path, ["missingAttribute"])
  }

  func testUnknownTransferSyntaxIsUnsupported() throws {
    let path = try writeCT("unknown-ts.dcm", syntax: .rle)
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    let uid = Array("1.2.840.10008.1.2.5".utf8)
    let range = try XCTUnwrap(data.firstRange(of: Data(uid)))
    // Same length, unknown UID: 1.2.840.10008.1.2.5 -> 1.2.840.99999.1.2.5
    let replacement = Array("1.2.840.99999.1.2.5".utf8)
    data.replaceSubrange(range, with: replacement)
    try data.write(to: URL(fileURLWithPath: path))
    assertCode(path, ["unsupportedTransferSyntax", "notDICOM"])
  }

  func testNonDICOMAndEmptyFilesAreNotDICOM() throws {
    let text = dir.appendingPathComponent("notes.txt").path
    try "hello, not a scan\n".write(toFile: text, atomically: true, encoding: .utf8)
    assertCode(text, ["notDICOM"])
    let empty = dir.appendingPathComponent("empty.dcm").path
    FileManager.default.createFile(atPath: empty, contents: Data())
    assertCode(empty, ["notDICOM"])
    let random = dir.appendingPathComponent("random.bin").path
    var generator = SystemRandomNumberGenerator()
    try Data((0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) })
      .write(to: URL(fileURLWithPath: random))
    assertCode(random, ["notDICOM", "truncated", "io", "noPixelData", "missingAttribute"])
    assertCode(dir.appendingPathComponent("missing.dcm").path, ["io"])
    assertCode(dir.path, ["io"])
  }

  func testDirectoryWithoutImagesIsNoImages() throws {
    try "x".write(
      toFile: dir.appendingPathComponent("a.txt").path, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try DicomDirectory.scan(dir.path)) { error in
      XCTAssertEqual((error as? ScanIOError)?.code, "noImages")
    }
  }
}
