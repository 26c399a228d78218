import Datasets
import Foundation
import TestSupport
import XCTest

@testable import Adaptation

/// How the shift sample extractor treats PNG and JPEG files (recognised by content; JPEG
/// fixtures from scripts/reference/jpeg_reference.py).
final class ShiftSampleExtractorTests: XCTestCase {
  func testJPEGsGetTheByteHistogramRangeAndTheirFormatAsPhotometric() throws {
    let dir = try makeTemporaryDirectory("shift-jpeg").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let renamed = dir + "/photo.dat"  // a JPEG without an image extension
    try FileManager.default.copyItem(atPath: jpegFixture("rgb_baseline.jpg"), toPath: renamed)
    let jpegs = [jpegFixture("gray_baseline.jpg"), jpegFixture("rgb_progressive.jpg"), renamed]
    XCTAssertEqual(ShiftSampleExtractor.histogramRange(paths: jpegs), 0...256)
    let text = dir + "/notes.txt"
    try "not an image".write(toFile: text, atomically: true, encoding: .utf8)
    XCTAssertEqual(ShiftSampleExtractor.histogramRange(paths: jpegs + [text]), -1024...3072)

    let decoded = try ShiftSampleExtractor.decodeOne(
      renamed, preprocessing: Preprocessing(window: .fixed(center: 128, width: 256), size: 8))
    XCTAssertEqual(decoded.headers["PhotometricInterpretation"], "JPEG")
    XCTAssertEqual(decoded.modalityValues.count, 13 * 11)
  }
}
