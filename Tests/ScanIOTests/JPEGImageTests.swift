import Foundation
import ScanIO
import TestSupport
import XCTest

/// JPEG reading with libjpeg-turbo. The fixtures and the expected pixels in
/// Tests/ScanIOTests/Fixtures/jpeg/ are written by scripts/reference/jpeg_reference.py: Pillow's
/// decode (its own libjpeg-turbo) of baseline and progressive, gray and colour 13 × 11 JPEGs, and
/// for colour files libjpeg's gray output (Pillow's draft("L")).
final class JPEGImageTests: XCTestCase {
  // Keys of the fixture written by scripts/reference (snake_case).
  // swift-format-ignore: AlwaysUseLowerCamelCase
  struct Reference: Decodable {
    struct Case: Decodable {
      var file: String
      var progressive: Bool
      var width: Int
      var height: Int
      var channels: Int
      var pixels: [UInt8]
      var gray: [UInt8]?
    }
    var pillow: String
    var libjpeg_turbo: String
    var cases: [Case]
    var unsupported: [String]
  }

  func reference() throws -> Reference {
    let url = URL(fileURLWithPath: jpegFixture("reference.json"))
    return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
  }

  func path(_ file: String) -> String { jpegFixture(file) }

  /// Largest absolute difference between two byte arrays of equal length.
  func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    XCTAssertEqual(a.count, b.count)
    return zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
  }

  func testDecodesLikeLibjpegTurboInPillow() throws {
    let reference = try reference()
    XCTAssertEqual(reference.cases.count, 4)
    XCTAssertEqual(Set(reference.cases.map(\.progressive)), [false, true])
    XCTAssertEqual(Set(reference.cases.map(\.channels)), [1, 3])
    for c in reference.cases {
      let expectedChannels: PNGImage.Channels = c.channels == 3 ? .rgb : .gray
      // The file's own layout, through the JPEG reader and through the content-sniffing one.
      let file = path(c.file)
      for image in [try JPEGImage.read(path: file), try RasterImage.read(path: file)] {
        XCTAssertEqual(image.width, c.width, c.file)
        XCTAssertEqual(image.height, c.height, c.file)
        XCTAssertEqual(image.channels, expectedChannels, c.file)
        let diff = maxDifference(image.pixels, c.pixels)
        print(
          "JPEG \(c.file) vs Pillow \(reference.pillow) (libjpeg-turbo "
            + "\(reference.libjpeg_turbo)): maxdiff = \(diff) (tolerance 0)")
        XCTAssertEqual(diff, 0, c.file)
      }
      if let gray = c.gray {
        // Colour read as gray: libjpeg's luma channel, as Pillow's draft("L") decodes it.
        let image = try JPEGImage.read(path: path(c.file), as: .gray)
        XCTAssertEqual(image.channels, .gray)
        let diff = maxDifference(image.pixels, gray)
        print("JPEG \(c.file) as gray vs Pillow draft(L): maxdiff = \(diff) (tolerance 0)")
        XCTAssertEqual(diff, 0, c.file)
      } else {
        // Gray read as RGB: each sample replicated.
        let image = try JPEGImage.read(path: path(c.file), as: .rgb)
        XCTAssertEqual(image.channels, .rgb)
        XCTAssertEqual(image.pixels, c.pixels.flatMap { [$0, $0, $0] }, c.file)
      }
    }
  }

  /// Every prefix of every fixture (a file cut short anywhere) throws a one-line error naming
  /// the file; none decodes partly (libjpeg's default fills the missing rows with gray and only
  /// warns) and none crashes.
  func testTruncatedAndCorruptFilesThrowNamingTheFile() throws {
    let dir = try makeTemporaryDirectory("jpeg-bad")
    defer { try? FileManager.default.removeItem(at: dir) }
    let bad = dir.appendingPathComponent("cut short.jpg").path
    XCTAssertTrue(FileManager.default.createFile(atPath: bad, contents: nil))
    let handle = try XCTUnwrap(FileHandle(forWritingAtPath: bad))
    defer { try? handle.close() }
    var prefixes = 0
    for c in try reference().cases {
      let bytes = try Data(contentsOf: URL(fileURLWithPath: path(c.file)))
      try handle.truncate(atOffset: 0)
      try handle.write(contentsOf: bytes)
      // Shortened one byte at a time through the handle: rewriting the file for every length
      // (Data.write fsyncs; ext4 flushes a file truncated to zero) took seconds.
      for length in (0..<bytes.count).reversed() {
        try handle.truncate(atOffset: UInt64(length))
        prefixes += 1
        do {
          _ = try RasterImage.read(path: bad)
          XCTFail("\(c.file) cut to \(length) of \(bytes.count) bytes decoded without error")
        } catch let error as ScanIOError {
          let message = error.description
          XCTAssertTrue(message.hasPrefix(bad + ": "), message)
          XCTAssertFalse(message.contains("\n"), message)
          if length >= 3 { XCTAssertEqual(error.code, "jpeg", message) }
        }
      }
    }
    XCTAssertGreaterThan(prefixes, 1000)

    // A truncated file states libjpeg's reason and the fix.
    let full = try Data(contentsOf: URL(fileURLWithPath: path("rgb_progressive.jpg")))
    try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: bad))
    XCTAssertThrowsError(try JPEGImage.read(path: bad)) { error in
      XCTAssertEqual(
        "\(error)",
        "\(bad): JPEG error (Premature end of JPEG file); re-export or re-copy the image")
    }
    // Garbage after a JPEG signature.
    let garbage = [0xFF, 0xD8, 0xFF] + Array("not really a JPEG".utf8)
    try Data(garbage).write(to: URL(fileURLWithPath: bad))
    XCTAssertThrowsError(try RasterImage.read(path: bad)) { error in
      XCTAssertEqual((error as? ScanIOError)?.code, "jpeg", "\(error)")
    }
    // Corrupt entropy-coded data: bytes after the headers overwritten.
    var corrupt = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("rgb_baseline.jpg"))))
    for i in stride(from: corrupt.count - 200, to: corrupt.count - 2, by: 3) { corrupt[i] = 0xFF }
    try Data(corrupt).write(to: URL(fileURLWithPath: bad))
    XCTAssertThrowsError(try RasterImage.read(path: bad)) { error in
      XCTAssertEqual((error as? ScanIOError)?.code, "jpeg", "\(error)")
    }
  }

  func testCMYKMissingAndNonImageFilesGetTypedErrors() throws {
    for file in try reference().unsupported {
      XCTAssertThrowsError(try RasterImage.read(path: path(file))) { error in
        XCTAssertEqual((error as? ScanIOError)?.code, "unsupportedPixelFormat", "\(error)")
        XCTAssertTrue("\(error)".contains("CMYK"), "\(error)")
      }
    }
    let dir = try makeTemporaryDirectory("jpeg-other")
    defer { try? FileManager.default.removeItem(at: dir) }
    let missing = dir.appendingPathComponent("missing.jpg").path
    XCTAssertThrowsError(try RasterImage.read(path: missing)) { error in
      XCTAssertEqual(error as? ScanIOError, .io(path: missing, cause: "no such file"))
    }
    XCTAssertThrowsError(try JPEGImage.read(path: missing)) { error in
      XCTAssertEqual((error as? ScanIOError)?.code, "io", "\(error)")
    }
    let text = dir.appendingPathComponent("notes.jpg").path
    try "not an image".write(toFile: text, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try RasterImage.read(path: text)) { error in
      XCTAssertEqual(error as? ScanIOError, .notRasterImage(path: text))
      XCTAssertTrue("\(error)".contains("re-export it as PNG or JPEG"), "\(error)")
    }
    XCTAssertNil(RasterImage.format(ofFileAt: text))
    XCTAssertNil(RasterImage.format(ofFileAt: missing))
  }

  /// The decoder is chosen by the first bytes, not the name: a JPEG named .png and a PNG
  /// named .jpg both read, and PNGs read exactly as `PNGImage.read` reads them.
  func testFormatIsDecidedByContent() throws {
    let dir = try makeTemporaryDirectory("jpeg-sniff")
    defer { try? FileManager.default.removeItem(at: dir) }
    let jpegNamedPNG = dir.appendingPathComponent("photo.png").path
    try FileManager.default.copyItem(atPath: path("rgb_baseline.jpg"), toPath: jpegNamedPNG)
    XCTAssertEqual(RasterImage.format(ofFileAt: jpegNamedPNG), .jpeg)
    XCTAssertEqual(
      try RasterImage.read(path: jpegNamedPNG), try JPEGImage.read(path: path("rgb_baseline.jpg")))

    let rgb = PNGImage(width: 3, height: 2, channels: .rgb, pixels: (0..<18).map { UInt8($0 * 13) })
    let pngNamedJPEG = dir.appendingPathComponent("scan.JPG").path
    try rgb.write(path: pngNamedJPEG)
    XCTAssertEqual(RasterImage.format(ofFileAt: pngNamedJPEG), .png)
    XCTAssertEqual(try RasterImage.read(path: pngNamedJPEG), rgb)
    for channels in [PNGImage.Channels.gray, .rgb] {
      XCTAssertEqual(
        try RasterImage.read(path: pngNamedJPEG, as: channels),
        try PNGImage.read(path: pngNamedJPEG, as: channels))
    }
    XCTAssertTrue(RasterImage.hasRasterExtension(pngNamedJPEG))
    XCTAssertTrue(RasterImage.hasRasterExtension("a/b.jpeg"))
    XCTAssertFalse(RasterImage.hasRasterExtension("a/b.dcm"))
    XCTAssertFalse(RasterImage.hasRasterExtension("a/jpg"))
  }
}
