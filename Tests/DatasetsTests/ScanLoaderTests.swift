import Datasets
import Foundation
import ScanIO
import TestSupport
import XCTest

/// The dataset layer's decoding of PNG and JPEG files, recognised by content. JPEG fixtures:
/// scripts/reference/jpeg_reference.py (Tests/ScanIOTests/Fixtures/jpeg).
final class ScanLoaderTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws { dir = try makeTemporaryDirectory("scanloader").path }
  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

  func testJPEGLoadsAsLibjpegGrayWhateverItsName() throws {
    let luma = try JPEGImage.read(path: jpegFixture("rgb_progressive.jpg"), as: .gray)
    for name in ["photo.jpg", "photo.JPEG", "photo.png", "photo"] {
      let path = dir + "/" + name
      try FileManager.default.copyItem(atPath: jpegFixture("rgb_progressive.jpg"), toPath: path)
      XCTAssertTrue(ScanLoader.isRasterImage(path), name)
      let scan = try ScanLoader.load(path: path)
      XCTAssertEqual(scan.photometric, "JPEG", name)
      XCTAssertEqual(scan.width, 13, name)
      XCTAssertEqual(scan.height, 11, name)
      XCTAssertEqual(scan.bitsStored, 8, name)
      XCTAssertEqual(scan.values, luma.pixels.map(Float.init), name)
      let attributes = try ScanLoader.attributes(path: path, names: ["Manufacturer"])
      XCTAssertTrue(attributes.values.isEmpty, name)
      XCTAssertNil(attributes.patientHash, name)
    }
    let gray = try ScanLoader.load(path: jpegFixture("gray_baseline.jpg"))
    let expected = try JPEGImage.read(path: jpegFixture("gray_baseline.jpg")).pixels
    XCTAssertEqual(gray.values, expected.map(Float.init))
  }

  func testBadJPEGIsADecodeErrorNamingTheFile() throws {
    let path = dir + "/cut.jpg"
    let bytes = try Data(contentsOf: URL(fileURLWithPath: jpegFixture("gray_baseline.jpg")))
    try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
    XCTAssertThrowsError(try ScanLoader.load(path: path)) { error in
      guard case .decode(let named, _)? = error as? DatasetsError else {
        return XCTFail("\(error)")
      }
      XCTAssertEqual(named, path)
      XCTAssertTrue("\(error)".contains(path), "\(error)")
      XCTAssertTrue("\(error)".contains("Premature end of JPEG file"), "\(error)")
    }
    // Named like an image but holding text: the image error, not "not a DICOM file".
    let text = try Fixtures.write("not an image", to: "notes.jpeg", in: dir)
    XCTAssertThrowsError(try ScanLoader.load(path: text)) { error in
      XCTAssertTrue("\(error)".contains("neither a PNG nor a JPEG"), "\(error)")
    }
  }
}
