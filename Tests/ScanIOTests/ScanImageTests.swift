import Foundation
import ScanIO
import TestSupport
import XCTest

/// Windowing, resampling, PNG/NPY output, metadata and directory scans on generated files.
final class ScanImageTests: XCTestCase {
  private var dir: URL!

  override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

  private func write(
    _ name: String, values: [Int32], rows: Int, columns: Int,
    _ configure: (inout DicomImageSpec) -> Void = { _ in }
  ) throws -> String {
    var spec = DicomImageSpec(rows: rows, columns: columns, storedValues: values)
    configure(&spec)
    let path = dir.appendingPathComponent(name).path
    try DicomWriter.write(spec, to: path)
    return path
  }

  func testFileWindowAndMonochrome1Inversion() throws {
    // Stored 0...1000 with intercept -500: modality -500...500; window C=0 W=101.
    let values = (0..<11).map { Int32($0 * 100) }
    let path = try write("w.dcm", values: values, rows: 1, columns: 11) {
      $0.rescale = (1, -500)
      $0.set("WindowCenter", "0")
      $0.set("WindowWidth", "101")
    }
    let image = try ScanIO.read(path: path)
    XCTAssertEqual(image.fileWindows, [VOIWindow(center: 0, width: 101)])
    let display = image.displayFrame(0)
    XCTAssertEqual(display[0], 0)
    XCTAssertEqual(display[10], 255)
    XCTAssertEqual(display[5], 127.5 + 0.5 * 255 / 100, accuracy: 1e-3)  // x=0: (0.5/100+0.5)*255
    let minMax = image.displayFrame(0, window: .minMax)
    XCTAssertEqual(minMax.first, 0)
    XCTAssertEqual(minMax.last, 255)
    let inverted = try ScanIO.read(
      path: try write("m1.dcm", values: values, rows: 1, columns: 11) {
        $0.photometric = .monochrome1
      })
    XCTAssertEqual(inverted.modalityFrame(0), values.map(Float.init))  // physical values kept
    let shown = inverted.displayFrame(0, window: .minMax)
    XCTAssertEqual(shown.first, 255)  // lowest value is white in MONOCHROME1
    XCTAssertEqual(shown.last, 0)
  }

  func testResamplingAverageDownBilinearUpPadAndCrop() {
    // 4x4 ramp to 2x2 by area averaging: means of 2x2 blocks.
    let ramp = (0..<16).map(Float.init)
    XCTAssertEqual(
      Resampler.resize(ramp, height: 4, width: 4, newHeight: 2, newWidth: 2),
      [2.5, 4.5, 10.5, 12.5])
    // 1x2 to 1x4 bilinear with half-pixel centres: [0, 0.25, 0.75, 1] * 4.
    XCTAssertEqual(
      Resampler.resize([0, 4], height: 1, width: 2, newHeight: 1, newWidth: 4), [0, 1, 3, 4])
    // A 2x4 image padded to 4x4 keeps the content in the middle rows.
    let wide = [Float](repeating: 7, count: 8)
    let padded = Resampler.square(wide, height: 2, width: 4, size: 4, fit: .pad, padValue: -1)
    XCTAssertEqual(Array(padded[0..<4]), [-1, -1, -1, -1])
    XCTAssertEqual(Array(padded[4..<12]), [Float](repeating: 7, count: 8))
    // Cropping a 2x4 ramp to 2x2 keeps the centre columns.
    let row = [Float]([0, 1, 2, 3, 0, 1, 2, 3])
    XCTAssertEqual(Resampler.square(row, height: 2, width: 4, size: 2, fit: .crop), [1, 2, 1, 2])
    // Averaging preserves the mean.
    let noise = (0..<(30 * 20)).map { Float(($0 * 7919) % 101) }
    let small = Resampler.resize(noise, height: 30, width: 20, newHeight: 7, newWidth: 9)
    XCTAssertEqual(
      small.reduce(0, +) / Float(small.count), noise.reduce(0, +) / Float(noise.count),
      accuracy: 1.5)
  }

  func testPNG16AndNumpyOutput() throws {
    let path = dir.appendingPathComponent("g16.png").path
    let image = PNGImage16(
      width: 5, height: 3, channels: .gray, pixels: (0..<15).map { UInt16($0 * 4000) })
    try image.write(path: path)
    XCTAssertEqual(try PNGImage16.read(path: path), image)
    let rgb = PNGImage16(
      width: 2, height: 2, channels: .rgb, pixels: (0..<12).map { UInt16($0 * 5000) })
    try rgb.write(path: path)
    XCTAssertEqual(try PNGImage16.read(path: path), rgb)

    let npy = dir.appendingPathComponent("a.npy").path
    try NumpyFile.writeFloat32([1, -2.5, 3, 4, 5, 6], shape: [2, 3], to: npy)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: npy))
    XCTAssertEqual(Array(bytes.prefix(6)), [0x93] + Array("NUMPY".utf8))
    let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    XCTAssertEqual((10 + headerLength) % 64, 0)
    let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
    XCTAssertTrue(header.contains("'shape': (2, 3)"), header)
    // Read back with the fixtures' reader (the one numpy's files are checked with).
    let read = try NPY(URL(fileURLWithPath: npy))
    XCTAssertEqual(read.shape, [2, 3])
    XCTAssertEqual(read.values, [1, -2.5, 3, 4, 5, 6])
  }

  func testMetadataHashesThePatientAndGenericAccessorRefusesIdentity() throws {
    let path = try write("p.dcm", values: [1, 2, 3, 4], rows: 2, columns: 2) {
      $0.set("PatientID", "SECRET-123")
      $0.set("PatientName", "Doe^Jane")
      $0.set("PatientAge", "045Y")
      $0.set("StationName", "CT01")
    }
    let image = try ScanIO.read(path: path)
    XCTAssertEqual(image.metadata.patientAge, "045Y")
    XCTAssertEqual(image.metadata.stationName, "CT01")
    let hash = try XCTUnwrap(image.metadata.patientHash)
    XCTAssertEqual(hash.count, 64)
    XCTAssertFalse(hash.contains("SECRET"))
    let file = try DicomFile(path: path)
    XCTAssertEqual(file.value(forKeyword: "PatientAge"), "045Y")
    XCTAssertEqual(file.value(forKeyword: "0008,1010"), "CT01")
    XCTAssertNil(file.value(forKeyword: "PatientID"))
    XCTAssertNil(file.value(forKeyword: "PatientName"))
    XCTAssertEqual(DicomTag(keyword: "PatientAge"), .patientAge)
    // Keywords are remembered after DCMTK's first answer, a miss included: asked again (and
    // from many threads at once) they give the same tags.
    let asked = ["PatientAge", "PatientSex", "NoSuchKeyword", "StationName", "Rows"]
    let first = asked.map { DicomTag(keyword: $0) }
    XCTAssertEqual(first[1], DicomTag(0x0010, 0x0040))
    XCTAssertNil(first[2])
    XCTAssertEqual(first[4], DicomTag(0x0028, 0x0010))
    let again = [[DicomTag?]](unsafeUninitializedCapacity: 64) { buffer, count in
      DispatchQueue.concurrentPerform(iterations: 64) { i in
        (buffer.baseAddress! + i).initialize(to: asked.map { DicomTag(keyword: $0) })
      }
      count = 64
    }
    XCTAssertTrue(again.allSatisfy { $0 == first })
  }

  func testDirectoryScanGroupsSeriesOrdersSlicesAndSkipsNonImages() throws {
    let sub = dir.appendingPathComponent("nested/deeper")
    try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
    // Series A: three slices written out of order, no .dcm suffix; z decides the order.
    for (name, z, instance) in [("s3", 30.0, 1), ("s1", 10.0, 3), ("s2", 20.0, 2)] {
      _ = try write("nested/deeper/\(name)", values: [0, 1, 2, 3], rows: 2, columns: 2) {
        $0.set("SeriesInstanceUID", "1.2.3.4.1")
        $0.set("ImagePositionPatient", "0\\0\\\(z)")
        $0.set("ImageOrientationPatient", "1\\0\\0\\0\\1\\0")
        $0.set("InstanceNumber", "\(instance)")
      }
    }
    _ = try write("b.dcm", values: [5, 6, 7, 8], rows: 2, columns: 2) {
      $0.set("SeriesInstanceUID", "1.2.3.4.2")
    }
    try "not a scan".write(
      toFile: dir.appendingPathComponent("readme.txt").path, atomically: true, encoding: .utf8)
    let scan = try DicomDirectory.scan(dir.path)
    XCTAssertEqual(scan.series.count, 2)
    let a = try XCTUnwrap(scan.series.first { $0.seriesInstanceUID == "1.2.3.4.1" })
    XCTAssertEqual(a.images.map { ($0.path as NSString).lastPathComponent }, ["s1", "s2", "s3"])
    XCTAssertEqual(scan.skipped.count, 1)
    XCTAssertEqual(scan.skipped.first?.error.code, "notDICOM")
    let flat = try DicomDirectory.scan(dir.path, recursive: false)
    XCTAssertEqual(flat.images.count, 1)
    // Parallel decode keeps the order.
    let decoded = ScanIO.readAll(a.images.map(\.path), workers: 2)
    XCTAssertEqual(decoded.count, 3)
    XCTAssertEqual(try decoded[0].get().modalityFrame(0), [0, 1, 2, 3])
  }
}
